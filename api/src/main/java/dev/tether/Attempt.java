package dev.tether;

import static com.google.common.util.concurrent.MoreExecutors.directExecutor;

import com.google.common.util.concurrent.ListenableFuture;
import dev.tether.ConnectAttemptException.Stage;
import dev.tether.internal.AttemptObserver;
import java.util.Objects;
import java.util.concurrent.Callable;
import java.util.function.Consumer;
import org.jspecify.annotations.Nullable;

/**
 * One attempt to connect: lookup, connect, initialize, each a {@link StagedStep} whose future the
 * attempt holds while it is in flight. Confined to the serializing context. The loop starts it
 * with {@link #lookUp()}, is told of each outcome through {@link Outcomes}, and goes on with
 * {@link #connect} once it has dealt with the address.
 *
 * <p>A connection belongs to the attempt until {@link Outcomes#ready} hands it over, and is closed
 * by it if the attempt fails or is cancelled: by a failed initializer (unless it closed itself),
 * by {@link #cancel()}, or when a cancelled connect yields it anyway. A cancelled attempt reports
 * nothing more; the {@link ConnectionCloser} holds {@code closeFinished()} until its future in
 * flight has come back.
 */
final class Attempt<A, C extends Closable> {
  /** Where an attempt's outcomes go, in the context. */
  interface Outcomes<A, C extends Closable> {
    /** The lookup yielded {@code address}; {@link #connect} goes on. */
    void obtained(Attempt<A, C> attempt, A address);

    /** {@code connection} is connected and initialized: it now belongs to the loop. */
    void ready(Attempt<A, C> attempt, C connection);

    void failed(Attempt<A, C> attempt, ConnectAttemptException error);

  }

  private final Settings<A, C> settings;
  private final SerializingContext context;
  private final ConnectionCloser<C> closer;
  private final LoopParts<A, C> parts;
  private final Outcomes<A, C> outcomes;
  private final RetryTimer timer;
  private @Nullable ListenableFuture<?> inFlight;
  /** The connection the initializer prepares. */
  private @Nullable C initializing;
  private boolean cancelled;
  /** What the attempt observers were told of its start; null once told of its end. */
  private @Nullable ObservedAttempt observed = ObservedAttempt.NONE;

  /** Made by {@link LoopParts#newAttempt}, which started {@code timer}. */
  Attempt(LoopParts<A, C> parts, Outcomes<A, C> outcomes, RetryTimer timer) {
    this.parts = parts;
    this.settings = parts.settings;
    this.context = parts.context;
    this.closer = parts.closer;
    this.outcomes = outcomes;
    this.timer = timer;
  }

  @Override
  public String toString() {
    return "Attempt[in flight: " + inFlight + (initializing != null ? ", initializing " + initializing : "")
        + (cancelled ? ", cancelled" : "") + "]";
  }

  /** The attempt's retry timer, which started with it and outlives it. */
  RetryTimer timer() {
    return timer;
  }

  void lookUp() {
    observed = parts.observeStart();
    AddressLookup<A> lookup = settings.lookup();
    stage(
        "AddressLookup.lookup()",
        "address",
        lookup::lookup,
        address -> {
          if (!cancelled) {
            outcomes.obtained(this, address);
          }
        },
        Stage.LOOKUP);
  }

  void connect(A address) {
    Connector<A, C> connector = settings.connector();
    stage(
        "Connector.connect()",
        "connection",
        () -> connector.connect(address),
        this::connected,
        Stage.CONNECT);
  }

  /**
   * Stops the attempt: cancels its future in flight and closes the connection being initialized.
   * Nothing more is reported.
   */
  void cancel() {
    context.checkInContext();
    if (cancelled) {
      return;
    }
    cancelled = true;
    ListenableFuture<?> future = inFlight;
    if (future != null) {
      closer.hold(); // released when its outcome comes back; first, so nothing settles before
    }
    C preparing = initializing;
    initializing = null;
    if (preparing != null) {
      closer.closeUnpublished(preparing);
    }
    if (future != null) {
      future.cancel(false);
    }
  }

  private void connected(C connection) {
    if (cancelled || parts.closeRequested()) {
      // A connector that ignored the cancel, or a close() whose step comes next: never handed out,
      // never initialized.
      closer.closeUnpublished(connection);
      return;
    }
    ListenableFuture<Void> ended;
    try {
      ended = Objects.requireNonNull(connection.closeFinished(), "closeFinished() returned null");
    } catch (Throwable t) {
      closer.closeUnpublished(connection);
      failed(Stage.CONNECT, t);
      return;
    }
    ended.addListener(() -> context.execute(() -> ended(connection)), directExecutor());
    ConnectionInitializer<? super C> initializer = settings.initializer();
    if (initializer == null) {
      ready(connection);
      return;
    }
    initializing = connection;
    stage(
        "ConnectionInitializer.initialize()",
        "result",
        StagedStep.initializing(initializer, connection),
        ready -> {
          if (!cancelled) {
            initializing = null;
            ready(connection);
          }
        },
        Stage.INITIALIZE);
  }

  /** The attempt succeeded: {@code connection} goes to the outcomes. */
  private void ready(C connection) {
    tellObservers(AttemptObserver.Outcome::succeeded);
    outcomes.ready(this, connection);
  }

  /**
   * Tells the attempt observers how the attempt ended, once; not if {@code close()} was called
   * meanwhile: its step, still to come, makes this outcome count no more, as for a cancelled
   * attempt.
   */
  private void tellObservers(Consumer<AttemptObserver.Outcome> how) {
    ObservedAttempt told = observed;
    observed = null;
    if (told != null && !parts.closeRequested()) {
      told.ended(parts.attemptObservers, how, parts.log);
    }
  }

  /** {@code connection}'s {@code closeFinished()} completed. */
  private void ended(C connection) {
    if (initializing != connection) {
      parts.ended(connection); // once handed over, the loop's
      return;
    }
    ListenableFuture<?> preparing = inFlight;
    if (preparing != null && hasFailed(preparing)) {
      // The initializer closed it, then failed: its own step, queued after this one, reports its
      // error (not the close it caused) and sees to the close.
      return;
    }
    initializing = null; // it closed itself
    inFlight = null; // its outcome no longer counts
    if (preparing != null) {
      // Its outcome no longer counts, but a close() still waits for it, as for one in flight.
      closer.hold();
      preparing.addListener(() -> context.execute(closer::release), directExecutor());
      preparing.cancel(false);
    }
    failed(
        Stage.INITIALIZE, new IllegalStateException("the connection closed during initialization"));
  }

  /** Whether {@code future} is done and failed (not cancelled). */
  private static boolean hasFailed(ListenableFuture<?> future) {
    return future.isDone() && !future.isCancelled() && StagedStep.Outcome.of(future).failed;
  }

  private void failed(Stage stage, Throwable cause) {
    if (cancelled) {
      return; // no FailedToConnect for a cancelled attempt
    }
    C preparing = initializing;
    initializing = null;
    if (preparing != null) {
      // Also when the initializer closed it itself (close() is idempotent): a close() of the
      // persistent connection waits until its close has finished.
      closer.closeUnpublished(preparing);
    }
    ConnectAttemptException error = new ConnectAttemptException(stage, cause);
    tellObservers(outcome -> outcome.failed(error));
    outcomes.failed(this, error);
  }

  /**
   * Runs one stage: starts it, holds its future, and hands its outcome on in a later step, if
   * that future is still the one in flight then.
   */
  private <T> void stage(
      String call,
      String yields,
      Callable<ListenableFuture<T>> user,
      Consumer<T> then,
      Stage failedAt) {
    StagedStep<T> step = new StagedStep<>(call, yields, user, then, t -> failed(failedAt, t));
    ListenableFuture<T> future = step.start();
    if (future == null) {
      return;
    }
    inFlight = future;
    future.addListener(
        () ->
            context.execute(
                () -> {
                  if (inFlight != future) {
                    return;
                  }
                  inFlight = null;
                  boolean held = cancelled; // cancel() held the closer for this outcome
                  step.finish(future);
                  if (held) {
                    closer.release();
                  }
                }),
        directExecutor());
  }
}
