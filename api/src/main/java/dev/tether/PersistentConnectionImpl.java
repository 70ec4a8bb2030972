package dev.tether;

import static com.google.common.base.Preconditions.checkState;
import static com.google.common.util.concurrent.MoreExecutors.directExecutor;

import com.google.common.util.concurrent.ListenableFuture;
import dev.tether.ConnectAttemptException.Stage;
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
import java.util.concurrent.Callable;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;
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
    implements PersistentConnection<A, C>, Scheduled, Waiters.Source<C> {
  private static final String CLOSED_DURING_INITIALIZATION =
      "the connection closed during initialization";

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
    this.closer = new ConnectionCloser<>(context, log);
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
   * listeners: the one place a {@link ConnectionState} is made, before the event that goes with it.
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
    if (now instanceof Closing || now instanceof Closed) {
      finishCloseIfDone();
      return true;
    }
    Current<C> current = now.current();
    boolean announced = now instanceof Connected<A, C> connected && connected.announced();
    moveTo(new Closing<>(now.inFlight(), current, announced));
    waiters.closed(closedException());
    if (now instanceof Attempting<A, C> attempting && attempting.initializing() != null) {
      closer.closeUnpublished(attempting.initializing(), this::finishCloseIfDone);
    }
    ListenableFuture<?> inFlight = now.inFlight();
    if (inFlight != null) {
      inFlight.cancel(false); // its outcome comes back to the Closing state
    }
    if (current != null) {
      // Its closeFinished() reports the same; whichever comes first counts.
      closer.close(current.connection(), () -> connectionEnded(current.connection()));
    }
    finishCloseIfDone();
    return true;
  }

  private void finishCloseIfDone() {
    if (state instanceof Closing<A, C> closing
        && closing.inFlight() == null
        && closing.current() == null
        && closer.idle()) {
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
    moveTo(new Attempting<>(null, null, null));
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
    moveTo(new Attempting<>(timer, null, null));
    if (!stopping()) {
      AddressLookup<A> lookup = settings.lookup();
      stage("AddressLookup.lookup()", "address", lookup::lookup, this::lookedUp, Stage.LOOKUP);
    }
  }

  /**
   * Runs one stage of the attempt: starts it, keeps its future in the state, and hands its
   * outcome on in a later step, if the state still holds that future then.
   */
  private <T> void stage(
      String call,
      String yields,
      Callable<ListenableFuture<T>> user,
      Consumer<T> then,
      Stage failedAt) {
    StagedStep<T> step =
        new StagedStep<>(call, yields, user, then, t -> attemptFailed(failedAt, t));
    ListenableFuture<T> future = step.start();
    if (future == null) {
      return;
    }
    moveTo(attempting().withInFlight(future));
    future.addListener(() -> context.execute(() -> stageDone(step, future)), directExecutor());
  }

  private <T> void stageDone(StagedStep<T> step, ListenableFuture<T> future) {
    LoopState<A, C> now = state;
    if (now.inFlight() != future) {
      return; // the initializer's connection closed, and that failed the attempt already
    }
    moveTo(
        now instanceof Closing<A, C> closing
            ? new Closing<>(null, closing.current(), closing.announced())
            : attempting().withInFlight(null));
    step.finish(future);
  }

  private void lookedUp(A address) {
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
      Connector<A, C> connector = settings.connector();
      stage(
          "Connector.connect()",
          "connection",
          () -> connector.connect(address),
          this::connectedTo,
          Stage.CONNECT);
    }
  }

  private void connectedTo(C connection) {
    if (closeRequested.get()) {
      closer.closeUnpublished(connection, this::finishCloseIfDone); // never handed out
      stopping();
      return;
    }
    ListenableFuture<Void> ended;
    try {
      ended = Objects.requireNonNull(connection.closeFinished(), "closeFinished() returned null");
    } catch (Throwable t) {
      closer.closeUnpublished(connection, this::finishCloseIfDone);
      attemptFailed(Stage.CONNECT, t);
      return;
    }
    ended.addListener(() -> context.execute(() -> connectionEnded(connection)), directExecutor());
    ConnectionInitializer<? super C> initializer = settings.initializer();
    if (initializer == null) {
      publishConnection(connection);
      return;
    }
    moveTo(attempting().withInitializing(connection));
    stage(
        "ConnectionInitializer.initialize()",
        "result",
        StagedStep.initializing(initializer, connection),
        ready -> {
          if (!stopping()) { // which closes the connection being initialized
            publishConnection(connection);
          }
        },
        Stage.INITIALIZE);
  }

  /** Makes {@code connection} current, completes the waiters and announces it. */
  private void publishConnection(C connection) {
    tally.connected();
    Connected<A, C> connected = new Connected<>(Current.of(connection), timerOfAttempt(), false);
    moveTo(connected);
    waiters.connected(connection, closeRequested::get);
    if (stopping()) {
      return; // a waiter closed us: no Connected, and so no Disconnected either
    }
    moveTo(new Connected<>(connected.current(), connected.timer(), true));
    listeners.emit(new Event.Connected<>(connection));
    stopping();
  }

  private void attemptFailed(Stage stage, Throwable cause) {
    if (stopping()) {
      return; // closing cancelled this attempt, or raced it: no FailedToConnect after close
    }
    Attempting<A, C> attempting = attempting();
    C initializing = attempting.initializing();
    if (initializing != null && !closer.isClosed(initializing)) {
      closer.closeUnpublished(initializing, this::finishCloseIfDone);
    }
    ConnectAttemptException error = new ConnectAttemptException(stage, cause);
    boolean isNew = tally.failed(error);
    // The next attempt starts at once if this one outlasted its timer: no waiting then.
    RetryTimer timer = timerOfAttempt();
    boolean atOnce = timer.fired();
    moveTo(atOnce ? new Attempting<>(timer, null, null) : new Waiting<>(timer, false));
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

  /** A connection's {@code closeFinished()} completed, or its close did. */
  private void connectionEnded(C connection) {
    context.checkInContext();
    LoopState<A, C> now = state;
    if (now instanceof Attempting<A, C> attempting && attempting.initializing() == connection) {
      ListenableFuture<?> preparing = attempting.inFlight();
      moveTo(attempting.withInFlight(null).withInitializing(null)); // it closed itself
      if (preparing != null) {
        preparing.cancel(false);
      }
      attemptFailed(Stage.INITIALIZE, new IllegalStateException(CLOSED_DURING_INITIALIZATION));
      return;
    }
    Current<C> current = now.current();
    if (current == null || current.connection() != connection) {
      return;
    }
    stopping(); // a close() not yet acted on is first: this end is then its Disconnected
    if (state instanceof Closing<A, C> closing) {
      moveTo(new Closing<>(closing.inFlight(), null, false));
      if (closing.announced()) {
        listeners.emit(new Event.Disconnected<>(), "closing");
      }
      finishCloseIfDone();
      return;
    }
    // A connection that outlived its attempt's timer is replaced at once: no waiting then.
    RetryTimer timer = ((Connected<A, C>) now).timer();
    boolean atOnce = timer.fired();
    moveTo(atOnce ? new Attempting<>(timer, null, null) : new Waiting<>(timer, true));
    if (stopping()) {
      return;
    }
    listeners.emit(new Event.Disconnected<>(), StateText.next(published.read()));
    if (!stopping() && atOnce) {
      startRound();
    }
  }

  private Attempting<A, C> attempting() {
    if (state instanceof Attempting<A, C> attempting) {
      return attempting;
    }
    throw new IllegalStateException("no attempt in " + state);
  }

  /** The timer of the attempt in flight; a stage is in flight only once it started. */
  private RetryTimer timerOfAttempt() {
    return Objects.requireNonNull(attempting().timer(), "an attempt's timer");
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
