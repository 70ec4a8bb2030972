package dev.tether;

import dev.tether.internal.AttemptObserver;
import dev.tether.internal.UncancellableFuture;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;
import org.jspecify.annotations.Nullable;

/**
 * What the loop and its background attempts (standby, handover) share: the settings, the
 * serializing context, the log, the retry delay, the closer and the tally, and how an attempt
 * starts. Confined to the context, but for what is final.
 */
final class LoopParts<A, C extends Closable> {
  final Settings<A, C> settings;
  final EventLog log;
  final SerializingContext context;
  final GuardedDelay delay;
  final ConnectionCloser<C> closer;
  final Tally<A, C> tally;
  /** Set by {@code close()} before its step runs; any thread. */
  final AtomicBoolean closeRequested = new AtomicBoolean();
  /** Completed by the loop when closing has finished; ignores {@code cancel()}. */
  final UncancellableFuture<Void> closeFinished = new UncancellableFuture<>();
  /** Told of each attempt's start and end; any thread adds and removes. */
  final List<AttemptObserver> attemptObservers = new CopyOnWriteArrayList<>();
  private final Consumer<C> ended;
  private final Consumer<RejectedExecutionException> rejected;
  private final Runnable published;

  LoopParts(
      Settings<A, C> settings,
      Runnable settled,
      Consumer<C> ended,
      Consumer<RejectedExecutionException> rejected,
      Runnable published) {
    this.published = published;
    this.settings = settings;
    this.log = new EventLog(settings.logger(), settings.serverName());
    this.context = new SerializingContext(log);
    this.delay = new GuardedDelay(settings.retryDelay(), settings.randomize(), log);
    this.closer = new ConnectionCloser<>(context, log, settled);
    this.tally = new Tally<>(log);
    this.ended = ended;
    this.rejected = rejected;
  }

  /**
   * Starts a timer that runs {@code step} in the context after {@code nanos}; null if the
   * scheduler rejected it, which closes the persistent connection. A scheduler that fails
   * otherwise (it throws something else, even an Error such as the OutOfMemoryError of a pool
   * that cannot start a thread, or returns no future) is taken as rejecting: without a timer the
   * persistent connection could neither retry nor wait, and would sit in its state for good.
   */
  @Nullable RetryTimer timer(long nanos, Runnable step) {
    try {
      return RetryTimer.start(settings.scheduler(), context, nanos, step);
    } catch (RuntimeException | Error e) {
      schedulerFailed(e);
      return null;
    }
  }

  /**
   * The scheduler refused a task, or failed to take it ({@code failure}): as without it the
   * persistent connection could neither retry nor wait, it logs an error and closes itself.
   */
  void schedulerFailed(Throwable failure) {
    rejected.accept(
        failure instanceof RejectedExecutionException refused
            ? refused
            : new RejectedExecutionException("the scheduler failed to schedule a task", failure));
  }

  /**
   * Reserves a token of the budget for an attempt. Returns null if it is due now; else the timer
   * that runs {@code whenDue} when it is (cancel it to give up waiting; the token is not given
   * back).
   */
  @Nullable RetryTimer waitForToken(Runnable whenDue) {
    long nanos;
    try {
      nanos = settings.budget().reserveNanos();
    } catch (Throwable t) {
      // The budget's Ticker is user code: a throw must not strand the attempt. It starts now.
      log.warn("the reconnect budget {} threw; the attempt starts without waiting", settings.budget(), t);
      return null;
    }
    return nanos == 0 ? null : timer(nanos, whenDue);
  }

  /**
   * A new attempt that reports to {@code outcomes}, counted, with its retry timer started (the
   * delay given {@code failures}) to run {@code onTimer}; the caller records it, then calls its
   * {@link Attempt#lookUp()}. Null if the scheduler rejected the timer: then there is no attempt.
   */
  @Nullable Attempt<A, C> newAttempt(int failures, Runnable onTimer, Attempt.Outcomes<A, C> outcomes) {
    RetryTimer timer = timer(delay.nanos(failures), onTimer);
    if (timer == null) {
      return null;
    }
    tally.attemptStarted();
    published.run(); // the count of attempts, also of background ones
    return new Attempt<>(this, outcomes, timer);
  }

  /** Tells the attempt observers that an attempt's lookup starts. */
  ObservedAttempt observeStart() {
    return ObservedAttempt.start(attemptObservers, log);
  }

  /** Whether {@code close()} was called, perhaps with its step still to come. Any thread. */
  boolean closeRequested() {
    return closeRequested.get();
  }

  /** A connection that an attempt made ended: its {@code closeFinished()} completed. */
  void ended(C connection) {
    ended.accept(connection);
  }
}
