package dev.tether;

import static com.google.common.base.Preconditions.checkState;

import com.google.common.util.concurrent.ListenableFuture;
import dev.tether.LoopState.Attempting;
import dev.tether.LoopState.Closed;
import dev.tether.LoopState.Closing;
import dev.tether.LoopState.Connected;
import dev.tether.LoopState.Current;
import dev.tether.LoopState.Waiting;
import dev.tether.internal.Scheduled;
import dev.tether.internal.StateText;
import dev.tether.internal.UncancellableFuture;
import java.util.Objects;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.atomic.AtomicBoolean;
import org.jspecify.annotations.Nullable;

/**
 * The persistent connection's loop: a state machine over {@link LoopState}, whose {@link #state}
 * only {@link #moveTo} changes, in the serializing {@link #context}. Every step runs there; other
 * threads read only {@link #state} and {@link #published} (both volatile), {@link
 * #closeRequested} (set by {@link #close()} before its step runs) and {@link #closeFinished}.
 *
 * <p>A step that finds {@code close()} called acts on it at once ({@link #stopping()}), so no
 * event follows a close but the {@code Disconnected} of the connection it closes.
 *
 * <p>User code (lookup, connector, initializer, retry delay, listeners, the logger, connections'
 * methods, and the callbacks of futures this class completes) runs inside steps, guarded so that
 * whatever it throws cannot break the loop, and never under a lock.
 */
final class PersistentConnectionImpl<A, C extends Closable>
    implements PersistentConnection<A, C>, Scheduled, Waiters.Source<C>, Attempt.Outcomes<A, C> {
  private final Settings<A, C> settings;
  private final String serverName;
  private final GuardedDelay delay;
  private final EventLog log;
  private final SerializingContext context;
  private final Listeners<A, C> listeners;
  private final StateListeners<A, C> stateListeners;
  private final Waiters<C> waiters;
  private final ConnectionCloser<C> closer;
  private final Tally<A, C> tally;
  private final AtomicBoolean closeRequested = new AtomicBoolean();
  private final UncancellableFuture<Void> closeFinished = new UncancellableFuture<>();
  /** Written only by {@link #moveTo}. */
  private volatile LoopState<A, C> state = Waiting.beforeFirstRound();
  /** What the loop last published, for any thread; written only by {@link #publish()}. */
  private volatile Tally.Snapshot<A, C> published;

  PersistentConnectionImpl(Settings<A, C> settings) {
    this.settings = settings;
    this.serverName = settings.serverName();
    this.log = new EventLog(settings.logger(), serverName);
    this.delay = new GuardedDelay(settings.retryDelay(), settings.randomize(), log);
    this.context = new SerializingContext(log);
    this.listeners = new Listeners<>(context, log, settings.listeners());
    this.stateListeners = new StateListeners<>(context, log);
    this.waiters = new Waiters<>(context, this);
    this.closer = new ConnectionCloser<>(context, log, this::finishCloseIfDone);
    this.tally = new Tally<>(log);
    this.published = tally.snapshot(state);
  }

  /** Hands the first round to the scheduler. Runs no user code. */
  void start() {
    try {
      scheduler().execute(() -> context.execute(this::firstRound));
    } catch (RejectedExecutionException e) {
      schedulerRejected(e);
    }
  }

  // ---- public API ----

  @Override
  public ScheduledExecutorService scheduler() {
    return settings.scheduler();
  }

  @Override
  public String serverName() {
    return serverName;
  }

  @Override
  public ListenableFuture<C> connected() {
    return waiters.connected();
  }

  @Override
  public ListenableFuture<C> connectedOrFailedToConnect() {
    return waiters.connectedOrFailed();
  }

  @Override
  public @Nullable C currentConnection() {
    Current<C> current = state.current();
    return current == null ? null : current.connection();
  }

  @Override
  public ConnectionState<A, C> state() {
    ConnectionState<A, C> now = published.read();
    return closeRequested.get() && now.status().compareTo(ConnectionState.Status.CLOSING) < 0
        ? now.with(ConnectionState.Status.CLOSING, null) // close()'s step has not run yet
        : now;
  }

  @Override
  public Subscription subscribeState(StateListener<A, C> listener) {
    Objects.requireNonNull(listener, "listener");
    return stateListeners.subscribe(listener, () -> published.read());
  }

  @Override
  public Subscription subscribe(EventListener<A, C> listener) {
    return listeners.subscribe(Objects.requireNonNull(listener, "listener"));
  }

  /** Stops waiting, if the loop still waits: the failure count is kept. */
  @Override
  public boolean retryNow() {
    if (state().status() != ConnectionState.Status.WAITING_TO_RETRY) {
      return false;
    }
    context.execute(this::waitOver);
    return true;
  }

  @Override
  public ListenableFuture<Void> close() {
    if (closeRequested.compareAndSet(false, true)) {
      context.execute(this::stopping);
    }
    return closeFinished;
  }

  @Override
  public boolean isClosed() {
    return closeRequested.get();
  }

  @Override
  public ListenableFuture<Void> closeFinished() {
    return closeFinished;
  }

  @Override
  public String toString() {
    return "PersistentConnection[" + serverName + ", " + state.status() + "]";
  }

  // ---- the state machine ----

  /**
   * The one method that changes {@link #state}: releases the timer {@code next} does not carry
   * over, and publishes. Closing is terminal.
   */
  private void moveTo(LoopState<A, C> next) {
    context.checkInContext();
    LoopState<A, C> previous = state;
    checkState(
        !(previous instanceof Closed)
            && (!(previous instanceof Closing) || next instanceof Closing || next instanceof Closed),
        "no way from %s to %s",
        previous,
        next);
    state = next;
    RetryTimer timer = previous.timer();
    if (timer != null && timer != next.timer()) {
      timer.cancel();
    }
    publish();
  }

  /**
   * Publishes the state, as the loop's state and tally now say, and offers it to the state
   * listeners: the one place a {@link ConnectionState} is made, before the event that goes with
   * it.
   */
  private void publish() {
    Tally.Snapshot<A, C> next = tally.snapshot(state);
    published = next;
    stateListeners.publish(next.read());
  }

  /**
   * Whether {@code close()} was called. If so, the loop closes now, unless it is closing already:
   * the step that asked must stop. Also the step that {@code close()} queues.
   */
  private boolean stopping() {
    context.checkInContext();
    if (!closeRequested.get()) {
      return false;
    }
    LoopState<A, C> now = state;
    if (!(now instanceof Closing || now instanceof Closed)) {
      Current<C> current = now.current();
      moveTo(new Closing<>(current, now instanceof Connected<A, C> c && c.announced()));
      waiters.closed(closedException());
      if (now instanceof Attempting<A, C> attempting && attempting.attempt() != null) {
        attempting.attempt().cancel();
      }
      if (current != null) {
        // Its closeFinished() reports the same; whichever comes first counts.
        closer.close(current.connection(), () -> ended(current.connection()));
      }
    }
    finishCloseIfDone();
    return true;
  }

  private void finishCloseIfDone() {
    if (state instanceof Closing<A, C> closing && closing.current() == null && closer.idle()) {
      moveTo(new Closed<>()); // callbacks of closeFinished() see CLOSED
      closeFinished.set(null);
    }
  }

  /** The first round, unless {@link #retryNow()} started it already. */
  private void firstRound() {
    if (state instanceof Waiting<A, C> waiting && waiting.timer() == null) {
      waitOver();
    }
  }

  /** The retry timer fired, or {@link #retryNow()} cut it short: if the loop waits, it goes on. */
  private void waitOver() {
    if (!stopping() && state instanceof Waiting<A, C> waiting) {
      if (waiting.newRound()) {
        startRound();
      } else {
        startAttempt();
      }
    }
  }

  private void startRound() {
    tally.newRound();
    moveTo(new Attempting<>(null, null));
    if (stopping()) {
      return;
    }
    listeners.emit(new Event.AttemptingToConnect<>());
    if (!stopping()) {
      startAttempt();
    }
  }

  private void startAttempt() {
    RetryTimer timer;
    try {
      long nanos = delay.nanos(tally.consecutiveFailures());
      timer = RetryTimer.start(scheduler(), context, nanos, this::waitOver);
    } catch (RejectedExecutionException e) {
      schedulerRejected(e);
      return;
    }
    tally.attemptStarted();
    Attempt<A, C> attempt = new Attempt<>(settings, context, closer, this);
    moveTo(new Attempting<>(timer, attempt));
    if (!stopping()) {
      attempt.lookUp();
    }
  }

  @Override
  public void obtained(Attempt<A, C> attempt, A address) {
    if (stopping()) {
      return;
    }
    boolean isNew = tally.obtained(address);
    publish();
    if (stopping()) {
      return;
    }
    if (isNew) {
      listeners.emit(new Event.ObtainedAddress<>(address));
    }
    if (!stopping()) {
      attempt.connect(address);
    }
  }

  /** Makes {@code connection} current, completes the waiters and announces it. */
  @Override
  public void ready(Attempt<A, C> attempt, C connection) {
    if (closeRequested.get()) {
      closer.closeUnpublished(connection); // never handed out
      stopping();
      return;
    }
    tally.connected();
    RetryTimer timer = timerOf(attempt);
    Current<C> current = Current.of(connection);
    moveTo(new Connected<>(current, timer, false));
    waiters.connected(connection, closeRequested::get);
    if (stopping()) {
      return; // a waiter closed us: no Connected, and so no Disconnected either
    }
    moveTo(new Connected<>(current, timer, true));
    listeners.emit(new Event.Connected<>(connection));
    stopping();
  }

  @Override
  public void failed(Attempt<A, C> attempt, ConnectAttemptException error) {
    if (stopping()) {
      return; // closing raced this attempt: no FailedToConnect after close
    }
    boolean isNew = tally.failed(error);
    // The next attempt starts at once if this one outlasted its timer: no waiting then.
    RetryTimer timer = timerOf(attempt);
    boolean atOnce = timer.fired();
    moveTo(atOnce ? new Attempting<>(timer, null) : new Waiting<>(timer, false));
    waiters.failed(error);
    if (stopping()) {
      return;
    }
    if (isNew) {
      listeners.emit(new Event.FailedToConnect<>(error));
    }
    if (!stopping() && atOnce) {
      startAttempt();
    }
  }

  /** A connection's {@code closeFinished()} completed, or the close of the loop did. */
  @Override
  public void ended(C connection) {
    context.checkInContext();
    Current<C> current = state.current();
    if (current == null || current.connection() != connection) {
      return;
    }
    stopping(); // a close() not yet acted on is first: this end is then its Disconnected
    if (state instanceof Closing<A, C> closing) {
      moveTo(new Closing<>(null, false));
      if (closing.announced()) {
        listeners.emit(new Event.Disconnected<>(), "closing");
      }
      finishCloseIfDone();
      return;
    }
    // A connection that outlived its attempt's timer is replaced at once: no waiting then.
    RetryTimer timer = ((Connected<A, C>) state).timer();
    boolean atOnce = timer.fired();
    moveTo(atOnce ? new Attempting<>(timer, null) : new Waiting<>(timer, true));
    if (stopping()) {
      return;
    }
    listeners.emit(new Event.Disconnected<>(), StateText.next(published.read()));
    if (!stopping() && atOnce) {
      startRound();
    }
  }

  /** The timer of {@code attempt}, which must be the attempt in flight. */
  private RetryTimer timerOf(Attempt<A, C> attempt) {
    if (state instanceof Attempting<A, C> attempting && attempting.attempt() == attempt) {
      return Objects.requireNonNull(attempting.timer(), "an attempt's timer");
    }
    throw new IllegalStateException(attempt + " is not in flight in " + state);
  }

  private void schedulerRejected(RejectedExecutionException e) {
    log.error("the scheduler rejected a task; closing", e);
    ListenableFuture<Void> unused = close();
  }

  // ---- what the waiters need ----

  @Override
  public @Nullable ListenableFuture<C> openConnection() {
    Current<C> current = state.current();
    return current != null && !closer.isClosed(current.connection()) ? current.future() : null;
  }

  @Override
  public boolean closeRequested() {
    return closeRequested.get();
  }

  @Override
  public String describeWait() {
    return "waiting for a connection to " + serverName + "; " + StateText.describe(state());
  }

  @Override
  public IllegalStateException closedException() {
    return new IllegalStateException("persistent connection to " + serverName + " is closed");
  }
}
