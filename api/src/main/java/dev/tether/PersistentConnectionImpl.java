package dev.tether;

import com.google.common.util.concurrent.Futures;
import com.google.common.util.concurrent.ListenableFuture;
import dev.tether.LoopState.Current;
import dev.tether.internal.AttemptObserver;
import dev.tether.internal.Handovers;
import dev.tether.internal.NamedSubscription;
import dev.tether.internal.Scheduled;
import dev.tether.internal.StateText;
import dev.tether.internal.UncancellableFuture;
import java.util.Objects;
import java.util.concurrent.ScheduledExecutorService;
import org.jspecify.annotations.Nullable;

/**
 * The public face of a persistent connection: the methods any thread may call. Each reads what
 * the {@link Loop} published, or hands a step to its serializing context; none runs user code
 * but on the calling thread when it runs the step it handed over (see "Threads" in {@link
 * PersistentConnection}).
 */
final class PersistentConnectionImpl<A, C extends Closable>
    implements PersistentConnection<A, C>,
        Scheduled,
        Handovers,
        AttemptObserver.Source,
        Waiters.Source<C> {
  private final Settings<A, C> settings;
  private final Loop<A, C> loop;
  private final LoopParts<A, C> parts;

  PersistentConnectionImpl(Settings<A, C> settings) {
    this.settings = settings;
    this.loop = new Loop<>(settings, this);
    this.parts = loop.parts;
  }

  /** Hands the first round to the scheduler. Runs no user code. */
  void start() {
    try {
      scheduler().execute(() -> loop.context.execute(loop::firstRound));
    } catch (RuntimeException | Error e) { // rejected, or a scheduler that fails otherwise
      parts.schedulerFailed(e);
    }
  }

  @Override
  public ScheduledExecutorService scheduler() {
    return settings.scheduler();
  }

  @Override
  public String serverName() {
    return settings.serverName();
  }

  @Override
  public ListenableFuture<C> connected() {
    return loop.waiters.connected();
  }

  @Override
  public ListenableFuture<C> connectedOrFailedToConnect() {
    return loop.waiters.connectedOrFailed();
  }

  @Override
  public @Nullable C currentConnection() {
    Current<C> current = loop.state.current();
    return current == null ? null : current.connection();
  }

  @Override
  public ConnectionState<A, C> state() {
    return loop.snapshot();
  }

  @Override
  public Subscription subscribeState(StateListener<A, C> listener) {
    return loop.stateListeners.subscribe(
        Objects.requireNonNull(listener, "listener"), loop::snapshot);
  }

  @Override
  public Subscription subscribe(EventListener<A, C> listener) {
    return loop.listeners.subscribe(Objects.requireNonNull(listener, "listener"));
  }

  @Override
  public boolean retryNow() {
    // Read before the status: the step starts the attempt only if no attempt started since, so
    // that an attempt a timer started meanwhile, failed and waits again, is not retried twice.
    long seen = loop.roundAttemptsStarted();
    if (state().status() != ConnectionState.Status.WAITING_TO_RETRY) {
      return false;
    }
    loop.context.execute(() -> loop.retryNow(seen));
    return true;
  }

  @Override
  public ListenableFuture<C> handOver() {
    if (isClosed()) {
      return Futures.immediateFailedFuture(closedException());
    }
    UncancellableFuture<C> fresh = new UncancellableFuture<>();
    UncancellableFuture<C> shared = loop.handover.updateAndGet(f -> f != null ? f : fresh);
    if (shared == fresh) {
      loop.context.execute(() -> loop.startHandover(fresh));
    }
    return shared;
  }

  @Override
  public boolean handoverInFlight() {
    return loop.handover.get() != null;
  }

  @Override
  public Subscription observeAttempts(AttemptObserver observer) {
    Objects.requireNonNull(observer, "observer");
    String description = "attempts of " + serverName() + " told to " + observer; // may throw: first
    parts.attemptObservers.add(observer);
    return NamedSubscription.of(description, () -> parts.attemptObservers.remove(observer));
  }

  @Override
  public ListenableFuture<Void> close() {
    if (parts.closeRequested.compareAndSet(false, true)) {
      loop.context.execute(loop::stopping);
    }
    return parts.closeFinished;
  }

  @Override
  public boolean isClosed() {
    return parts.closeRequested();
  }

  @Override
  public ListenableFuture<Void> closeFinished() {
    return parts.closeFinished;
  }

  @Override
  public String toString() {
    return "PersistentConnection[" + serverName() + ", " + loop.state.status() + "]";
  }

  // ---- what the waiters need ----

  /**
   * The current connection, if it is open and handed out: from the moment a connection becomes
   * current until its {@code Connected} is delivered, waiters queue, and the step that announces
   * it completes them, so that no one holds a connection whose {@code Connected} may never come,
   * or has not come yet.
   */
  @Override
  public @Nullable ListenableFuture<C> openConnection() {
    Current<C> current =
        loop.state instanceof LoopState.Connected<A, C> connected
                && connected.announced()
                && loop.handedOut == connected.current().connection()
            ? connected.current()
            : null;
    return current != null && !parts.closer.isClosed(current.connection())
        ? current.future()
        : null;
  }

  @Override
  public boolean closeRequested() {
    return parts.closeRequested();
  }

  @Override
  public String describeWait() {
    return "waiting for a connection to " + serverName() + "; " + StateText.describe(state());
  }

  @Override
  public IllegalStateException closedException() {
    return new IllegalStateException("persistent connection to " + serverName() + " is closed");
  }
}
