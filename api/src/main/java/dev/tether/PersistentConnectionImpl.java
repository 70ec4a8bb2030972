package dev.tether;

import static com.google.common.util.concurrent.MoreExecutors.directExecutor;

import com.google.common.util.concurrent.Futures;
import com.google.common.util.concurrent.ListenableFuture;
import dev.tether.ConnectAttemptException.Stage;
import dev.tether.internal.Scheduled;
import dev.tether.internal.StateText;
import dev.tether.internal.UncancellableFuture;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.Callable;
import java.util.concurrent.CancellationException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;

/**
 * The persistent connection's loop.
 *
 * <p>Every field below the "confined" line is read and written only by steps running in {@link
 * #context}; each step starts with {@code context.checkInContext()}. The fields above it are the
 * few that other threads read: {@link #closeRequested}, set synchronously by {@link #close()};
 * {@link #current}, volatile, written only in the context; and {@link #closeFinished}.
 *
 * <p>User code (lookup, connector, retry delay, listeners, the logger, connections' methods, and
 * the callbacks of futures this class completes) runs inside steps, guarded so that whatever it
 * throws cannot break the loop, and never under a lock.
 */
final class PersistentConnectionImpl<A, C extends Closable>
    implements PersistentConnection<A, C>, Scheduled {
  private enum Phase {
    NOT_STARTED,
    LOOKING_UP,
    CONNECTING,
    WAITING_TO_RETRY,
    CONNECTED,
    WAITING_TO_RECONNECT,
    CLOSING,
    CLOSED
  }

  /** The current connection with its completed future, so that a connected handle allocates nothing. */
  private static final class Current<C> {
    final C connection;
    final ListenableFuture<C> future;

    Current(C connection) {
      this.connection = connection;
      this.future = Futures.immediateFuture(connection);
    }
  }

  /**
   * A published state, and the retry timer whose time left fills in {@code retryIn} when the
   * state is read (none before the first round: zero then).
   */
  private record Published<A, C>(ConnectionState<A, C> state, @Nullable RetryTimer timer) {
    ConnectionState<A, C> read() {
      if (state.status() != ConnectionState.Status.WAITING_TO_RETRY) {
        return state;
      }
      Duration retryIn = timer == null ? Duration.ZERO : Duration.ofNanos(timer.remainingNanos());
      return new ConnectionState<>(
          state.status(),
          state.address(),
          state.connection(),
          state.lastFailure(),
          state.consecutiveFailures(),
          retryIn,
          state.standbyAddress(),
          state.attempts(),
          state.connections());
    }
  }

  /** What makes two failures "the same" for de-duplication: stage, class and message of the cause. */
  private record ErrorKey(Stage stage, Class<?> causeClass, @Nullable String causeMessage) {
    static ErrorKey of(Stage stage, Throwable cause) {
      return new ErrorKey(stage, cause.getClass(), cause.getMessage());
    }
  }

  private final String serverName;
  private final AddressLookup<A> lookup;
  private final Connector<A, C> connector;
  private final GuardedDelay delay;
  private final Logger logger;
  private final ScheduledExecutorService scheduler;
  private final @Nullable ConnectionInitializer<? super C> initializer;
  private final SerializingContext context;
  private final EventLog log;
  private final Listeners<A, C> listeners;
  private final Waiters<C> waiters;
  private final StateListeners<A, C> stateListeners;
  /** What the loop last published, for any thread; written only by {@link #publish()}. */
  private volatile Published<A, C> published =
      new Published<>(
          new ConnectionState<>(
              ConnectionState.Status.WAITING_TO_RETRY, null, null, null, 0, null, null, 0, 0),
          null);

  private final AtomicBoolean closeRequested = new AtomicBoolean();
  private final UncancellableFuture<Void> closeFinished = new UncancellableFuture<>();
  private volatile @Nullable Current<C> current;
  /** Written in the context; volatile only so that {@link #toString()} may read it. */
  private volatile Phase phase = Phase.NOT_STARTED;

  // ---- confined to the context ----
  /** The timer of the latest attempt; a new attempt cancels the one before. */
  private @Nullable RetryTimer timer;
  /** The lookup or connect future of the attempt in flight. */
  private @Nullable ListenableFuture<?> inFlight;
  private int consecutiveFailures;
  /**
   * Whether Connected was emitted for {@link #current}. Only then does its end emit Disconnected:
   * a connection that close() caught between its waiters and its Connected event was never
   * announced, and the grammar has no Disconnected without Connected.
   */
  private boolean announced;
  /** The connection the initializer prepares, not yet published. */
  private @Nullable C initializing;
  /** The address the current connection was made for. */
  private @Nullable A currentAddress;
  /** The last failed attempt since the last connection was published. */
  private @Nullable ConnectAttemptException lastFailure;
  private long attempts;
  private long connections;
  private @Nullable A previousAddress;
  private @Nullable ErrorKey previousError;
  /**
   * Connections never published (they arrived after close, failed to initialize, or broke at
   * once) that are being closed: closeFinished() waits for them.
   */
  private int lateConnectionsClosing;

  PersistentConnectionImpl(
      String serverName,
      AddressLookup<A> lookup,
      Connector<A, C> connector,
      RetryDelay retryDelay,
      boolean randomize,
      List<EventListener<A, C>> initialListeners,
      Logger logger,
      ScheduledExecutorService scheduler,
      @Nullable ConnectionInitializer<? super C> initializer) {
    this.initializer = initializer;
    this.serverName = serverName;
    this.lookup = lookup;
    this.connector = connector;
    this.logger = logger;
    this.scheduler = scheduler;
    this.log = new EventLog(logger, serverName);
    this.delay = new GuardedDelay(retryDelay, randomize, log);
    this.context = new SerializingContext(log);
    this.listeners = new Listeners<>(context, log, initialListeners);
    this.waiters = new Waiters<>(context);
    this.stateListeners = new StateListeners<>(context, log);
  }

  /** Hands the first round to the scheduler. Runs no user code. */
  void start() {
    try {
      scheduler.execute(() -> context.execute(this::firstRound));
    } catch (RejectedExecutionException e) {
      schedulerRejected(e);
    }
  }

  // ---- public API ----

  @Override
  public ScheduledExecutorService scheduler() {
    return scheduler;
  }

  @Override
  public String serverName() {
    return serverName;
  }

  @Override
  public ListenableFuture<C> connected() {
    Current<C> cur = current;
    if (cur != null && !isClosedSafely(cur.connection)) {
      return cur.future;
    }
    WaitingFuture<C> waiter = new WaitingFuture<>(this::describeWait);
    if (!closeRequested.get()) {
      context.execute(() -> addConnectedWaiter(waiter));
    }
    return waiter;
  }

  @Override
  public ListenableFuture<C> connectedOrFailedToConnect() {
    Current<C> cur = current;
    if (cur != null && !isClosedSafely(cur.connection)) {
      return cur.future;
    }
    if (closeRequested.get()) {
      return Futures.immediateFailedFuture(closedException());
    }
    WaitingFuture<C> waiter = new WaitingFuture<>(this::describeWait);
    context.execute(() -> addOutcomeWaiter(waiter));
    return waiter;
  }

  @Override
  public @Nullable C currentConnection() {
    Current<C> cur = current;
    return cur == null ? null : cur.connection;
  }

  @Override
  public ConnectionState<A, C> state() {
    ConnectionState<A, C> state = published.read();
    if (closeRequested.get()
        && state.status() != ConnectionState.Status.CLOSING
        && state.status() != ConnectionState.Status.CLOSED) {
      // close() was called; its step has not run yet.
      return new ConnectionState<>(
          ConnectionState.Status.CLOSING,
          state.address(),
          state.connection(),
          state.lastFailure(),
          state.consecutiveFailures(),
          null,
          state.standbyAddress(),
          state.attempts(),
          state.connections());
    }
    return state;
  }

  @Override
  public Subscription subscribeState(StateListener<A, C> listener) {
    Objects.requireNonNull(listener, "listener");
    return stateListeners.subscribe(listener, () -> published.read());
  }

  /**
   * Publishes the loop's state, as its fields now say, and offers it to the state listeners: the
   * one place a {@link ConnectionState} is made. Called by every step that changes what a state
   * shows, before the event that goes with it. Returns false if the persistent connection is
   * closing, perhaps because a state listener just closed it: the step must then stop, as it
   * would had close() come before it (no event, no new stage).
   */
  private boolean publish() {
    context.checkInContext();
    Current<C> cur = current;
    ConnectionState.Status status =
        phase != Phase.CLOSED && closeRequested.get()
            ? ConnectionState.Status.CLOSING // close() was called; its step is queued
            : switch (phase) {
          case NOT_STARTED, WAITING_TO_RETRY, WAITING_TO_RECONNECT -> ConnectionState.Status.WAITING_TO_RETRY;
          case LOOKING_UP, CONNECTING -> ConnectionState.Status.CONNECTING;
          case CONNECTED -> ConnectionState.Status.CONNECTED;
          case CLOSING -> ConnectionState.Status.CLOSING;
          case CLOSED -> ConnectionState.Status.CLOSED;
        };
    Published<A, C> next =
        new Published<>(
            new ConnectionState<>(
                status,
                cur != null ? currentAddress : previousAddress,
                cur != null ? cur.connection : null,
                lastFailure,
                consecutiveFailures,
                null,
                null,
                attempts,
                connections),
            status == ConnectionState.Status.WAITING_TO_RETRY ? timer : null);
    published = next;
    stateListeners.publish(next.read());
    return !closeRequested.get();
  }

  @Override
  public Subscription subscribe(EventListener<A, C> listener) {
    return listeners.subscribe(Objects.requireNonNull(listener, "listener"));
  }

  @Override
  public ListenableFuture<Void> close() {
    if (closeRequested.compareAndSet(false, true)) {
      context.execute(this::closeNow);
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
    return "PersistentConnection[" + serverName + ", " + phase + "]";
  }

  // ---- rounds and attempts ----

  /** The first round, unless {@link #retryNow()} started it already. */
  private void firstRound() {
    if (phase == Phase.NOT_STARTED) {
      startRound();
    }
  }

  private void startRound() {
    context.checkInContext();
    if (closeRequested.get()) {
      return;
    }
    previousAddress = null;
    previousError = null;
    phase = Phase.LOOKING_UP; // the state goes before its event
    if (!publish()) {
      return;
    }
    listeners.emit(new Event.AttemptingToConnect<>());
    startAttempt();
  }

  private void startAttempt() {
    context.checkInContext();
    if (closeRequested.get()) {
      return;
    }
    RetryTimer previous = timer;
    if (previous != null) {
      previous.cancel();
    }
    try {
      timer = RetryTimer.start(scheduler, context, delay.nanos(consecutiveFailures), this::onTimer);
    } catch (RejectedExecutionException e) {
      timer = null;
      schedulerRejected(e);
      return;
    }
    phase = Phase.LOOKING_UP;
    attempts++;
    if (!publish()) {
      return; // a state listener closed us: the queued close cancels the timer
    }
    stage(
        "AddressLookup.lookup()",
        "address",
        lookup::lookup,
        this::lookedUp,
        t -> attemptFailed(Stage.LOOKUP, t));
  }

  /**
   * Runs one stage of the attempt in flight: calls {@code user}, then, in a later step, hands
   * what its future yields to {@code then}. A throw, a null future, a failed or cancelled future
   * or a null result goes to {@code failed}, its message naming {@code call}.
   */
  private <T> void stage(
      String call,
      String yields,
      Callable<ListenableFuture<T>> user,
      Consumer<T> then,
      Consumer<Throwable> failed) {
    ListenableFuture<T> future;
    try {
      future = user.call();
    } catch (Throwable t) {
      failed.accept(t);
      return;
    }
    if (future == null) {
      failed.accept(new NullPointerException(call + " returned null"));
      return;
    }
    inFlight = future;
    future.addListener(
        () -> context.execute(() -> stageDone(call, yields, future, then, failed)),
        directExecutor());
  }

  private <T> void stageDone(
      String call,
      String yields,
      ListenableFuture<T> future,
      Consumer<T> then,
      Consumer<Throwable> failed) {
    context.checkInContext();
    if (inFlight != future) {
      return;
    }
    inFlight = null;
    T value;
    try {
      value = Futures.getDone(future);
    } catch (ExecutionException e) {
      failed.accept(causeOf(e));
      return;
    } catch (CancellationException e) {
      failed.accept(e);
      return;
    }
    if (value == null) {
      failed.accept(new NullPointerException(call + " yielded a null " + yields));
      return;
    }
    then.accept(value);
  }

  private void lookedUp(A address) {
    if (closeRequested.get()) {
      finishCloseIfDone();
      return;
    }
    boolean isNew = !sameAddress(address, previousAddress);
    previousAddress = address;
    phase = Phase.CONNECTING;
    if (!publish()) {
      return;
    }
    if (isNew) {
      listeners.emit(new Event.ObtainedAddress<>(address));
    }
    if (closeRequested.get()) {
      return;
    }
    stage(
        "Connector.connect()",
        "connection",
        () -> connector.connect(address),
        this::connectedTo,
        t -> attemptFailed(Stage.CONNECT, t));
  }

  private void connectedTo(C connection) {
    if (closeRequested.get()) {
      closeUnpublished(connection);
      return;
    }
    ListenableFuture<Void> dropped;
    try {
      dropped = Objects.requireNonNull(connection.closeFinished(), "closeFinished() returned null");
    } catch (Throwable t) {
      closeUnpublished(connection);
      attemptFailed(Stage.CONNECT, t);
      return;
    }
    dropped.addListener(
        () -> context.execute(() -> connectionEnded(connection)), directExecutor());
    ConnectionInitializer<? super C> init = initializer;
    if (init == null) {
      publishConnection(connection);
      return;
    }
    initializing = connection;
    stage(
        "ConnectionInitializer.initialize()",
        "result",
        () -> {
          ListenableFuture<?> preparing = init.initialize(connection);
          return preparing == null
              ? null
              : Futures.transform(preparing, ignored -> Boolean.TRUE, directExecutor());
        },
        ready -> initialized(connection),
        t -> initializationFailed(connection, t));
  }

  private void initialized(C connection) {
    initializing = null;
    if (closeRequested.get()) {
      closeUnpublished(connection); // never published
      return;
    }
    publishConnection(connection);
  }

  /** The initializer failed: the connection is closed, unless it closed itself. */
  private void initializationFailed(C connection, Throwable cause) {
    if (initializing == connection) {
      initializing = null;
      if (!isClosedSafely(connection)) {
        closeUnpublished(connection); // counted: closeFinished() waits for it
      }
    }
    attemptFailed(Stage.INITIALIZE, cause);
  }

  /** A connection's {@code closeFinished()} completed: during its initialization, or later. */
  private void connectionEnded(C connection) {
    context.checkInContext();
    if (initializing != connection) {
      connectionClosed(connection);
      return;
    }
    initializing = null;
    ListenableFuture<?> preparing = inFlight;
    inFlight = null; // its completion is ignored now
    if (preparing != null) {
      preparing.cancel(false);
    }
    attemptFailed(
        Stage.INITIALIZE, new IllegalStateException("the connection closed during initialization"));
  }

  /** Makes {@code connection} current, completes the waiters and announces it. */
  private void publishConnection(C connection) {
    consecutiveFailures = 0;
    lastFailure = null;
    currentAddress = previousAddress;
    connections++;
    phase = Phase.CONNECTED;
    current = new Current<>(connection);
    publish();
    waiters.connected(connection, closeRequested::get);
    if (closeRequested.get()) {
      // A waiter's callback closed us. No Connected after close: the connection stays current
      // unannounced until closeNow, queued behind this step, closes it; being unannounced, it
      // ends without Disconnected too, so the round ends as a close during a connect does.
      return;
    }
    announced = true;
    listeners.emit(new Event.Connected<>(connection));
  }

  private void attemptFailed(Stage stage, Throwable cause) {
    context.checkInContext();
    if (closeRequested.get()) {
      // Closing cancelled this attempt, or raced it: no FailedToConnect after close.
      finishCloseIfDone();
      return;
    }
    if (consecutiveFailures < Integer.MAX_VALUE) {
      consecutiveFailures++;
    }
    ConnectAttemptException error = new ConnectAttemptException(stage, cause);
    ErrorKey key = ErrorKey.of(stage, cause);
    boolean repeated = key.equals(previousError);
    previousError = key;
    lastFailure = error;
    // The next attempt starts at once if this one outlasted its timer: no waiting then.
    boolean retryAtOnce = timerHasFired();
    phase = retryAtOnce ? Phase.LOOKING_UP : Phase.WAITING_TO_RETRY;
    publish();
    waiters.failed(error);
    if (closeRequested.get()) {
      return; // a waiter's callback closed us: no FailedToConnect after close
    }
    if (!repeated) {
      listeners.emit(new Event.FailedToConnect<>(error));
    }
    if (retryAtOnce) {
      startAttempt();
    }
  }

  /** The connection's {@code closeFinished()} completed, or closing it failed. */
  private void connectionClosed(C connection) {
    context.checkInContext();
    Current<C> cur = current;
    if (cur == null || cur.connection != connection) {
      return;
    }
    current = null;
    boolean closing = phase == Phase.CLOSING;
    // A connection that outlived its attempt's timer is replaced at once: no waiting then.
    boolean roundAtOnce = !closing && timerHasFired();
    if (!closing) {
      phase = roundAtOnce ? Phase.LOOKING_UP : Phase.WAITING_TO_RECONNECT;
    }
    publish();
    if (announced) {
      announced = false;
      listeners.emit(new Event.Disconnected<>(), whatComesNext());
    }
    if (closing) {
      finishCloseIfDone();
    } else if (roundAtOnce) {
      startRound();
    }
  }

  private boolean timerHasFired() {
    RetryTimer current = timer;
    return current != null && current.fired();
  }

  /** The latest attempt's retry timer fired. */
  @Override
  public boolean retryNow() {
    if (state().status() != ConnectionState.Status.WAITING_TO_RETRY) {
      return false;
    }
    context.execute(this::retryNowStep);
    return true;
  }

  /** Stops waiting, if the loop still waits: the failure count is kept; no token is taken. */
  private void retryNowStep() {
    context.checkInContext();
    if (closeRequested.get()) {
      return;
    }
    switch (phase) {
      case NOT_STARTED -> startRound();
      case WAITING_TO_RETRY -> startAttempt(); // which cancels the pending timer
      case WAITING_TO_RECONNECT -> startRound();
      default -> {} // an attempt started meanwhile, or a connection: nothing to hurry
    }
  }

  private void onTimer() {
    context.checkInContext();
    if (phase == Phase.WAITING_TO_RETRY) {
      startAttempt();
    } else if (phase == Phase.WAITING_TO_RECONNECT) {
      startRound();
    }
  }

  private void schedulerRejected(RejectedExecutionException e) {
    log.error("the scheduler rejected a task; closing", e);
    ListenableFuture<Void> unused = close();
  }

  // ---- waiting for a connection ----

  private void addConnectedWaiter(WaitingFuture<C> waiter) {
    context.checkInContext();
    if (waiter.isDone() || closeRequested.get()) {
      return; // cancelled already, or closed: a connected() future then never completes
    }
    Current<C> cur = current;
    if (cur != null && !isClosedSafely(cur.connection)) {
      waiter.set(cur.connection);
      return;
    }
    waiters.addConnected(waiter);
  }

  private void addOutcomeWaiter(WaitingFuture<C> waiter) {
    context.checkInContext();
    if (waiter.isDone()) {
      return;
    }
    if (closeRequested.get()) {
      waiter.setException(closedException());
      return;
    }
    Current<C> cur = current;
    if (cur != null && !isClosedSafely(cur.connection)) {
      waiter.set(cur.connection);
      return;
    }
    waiters.addOutcome(waiter);
  }

  /** For the log line of Disconnected: when the next attempt comes. */
  private String whatComesNext() {
    ConnectionState<A, C> state = published.read();
    return switch (state.status()) {
      case CONNECTING -> "reconnecting now";
      case WAITING_TO_RETRY ->
          "next attempt in " + StateText.seconds(java.util.Objects.requireNonNullElse(state.retryIn(), Duration.ZERO));
      default -> "closing";
    };
  }

  /** What a waiting future waits for, for its {@code toString()}: see {@link WaitingFuture}. */
  private String describeWait() {
    return "waiting for a connection to " + serverName + "; " + StateText.describe(state());
  }

  private IllegalStateException closedException() {
    return new IllegalStateException("persistent connection to " + serverName + " is closed");
  }

  // ---- closing ----

  private void closeNow() {
    context.checkInContext();
    phase = Phase.CLOSING;
    publish();
    RetryTimer pendingTimer = timer;
    if (pendingTimer != null) {
      pendingTimer.cancel();
    }
    waiters.closed(closedException());
    C preparing = initializing;
    if (preparing != null) {
      initializing = null;
      closeUnpublished(preparing); // never published
    }
    ListenableFuture<?> attempt = inFlight;
    if (attempt != null) {
      attempt.cancel(false); // its completion comes back through stageDone
    }
    Current<C> cur = current;
    if (cur != null) {
      closeCurrentConnection(cur.connection);
    }
    finishCloseIfDone();
  }

  private void closeCurrentConnection(C connection) {
    context.checkInContext();
    // Its closeFinished() completes too and reports the same; whichever comes first counts.
    closeThen(connection, () -> connectionClosed(connection));
  }

  private void closeUnpublished(C connection) {
    context.checkInContext();
    lateConnectionsClosing++;
    closeThen(
        connection,
        () -> {
          lateConnectionsClosing--;
          finishCloseIfDone();
        });
  }

  /**
   * Closes {@code connection} and runs {@code closed} in the context once its close completes. A
   * close that throws, returns null or fails is logged and counted as done.
   */
  private void closeThen(C connection, Runnable closed) {
    ListenableFuture<Void> closing;
    try {
      closing = Objects.requireNonNull(connection.close(), "close() returned null");
    } catch (Throwable t) {
      log.warn("closing connection {} failed; counting it as closed", connection, t);
      closed.run();
      return;
    }
    closing.addListener(
        () -> context.execute(
            () -> {
              logIfFailed(closing, connection);
              closed.run();
            }),
        directExecutor());
  }

  private void logIfFailed(ListenableFuture<Void> closing, C connection) {
    try {
      Futures.getDone(closing);
    } catch (ExecutionException e) {
      log.warn("closing connection {} failed; counting it as closed", connection, causeOf(e));
    } catch (CancellationException e) {
      log.warn("closing connection {} was cancelled; counting it as closed", connection, e);
    }
  }

  private void finishCloseIfDone() {
    context.checkInContext();
    if (phase != Phase.CLOSING
        || inFlight != null
        || current != null
        || lateConnectionsClosing > 0) {
      return;
    }
    phase = Phase.CLOSED;
    publish(); // callbacks of closeFinished() see CLOSED
    closeFinished.set(null);
  }

  // ---- helpers around user code ----

  private boolean sameAddress(A address, @Nullable A previous) {
    try {
      return address.equals(previous);
    } catch (Throwable t) {
      log.warn("address {}.equals threw; treating it as a new address", address, t);
      return false;
    }
  }

  private boolean isClosedSafely(C connection) {
    try {
      return connection.isClosed();
    } catch (Throwable t) {
      log.warn("connection {}.isClosed() threw; treating it as closed", connection, t);
      return true;
    }
  }

  private static Throwable causeOf(ExecutionException e) {
    Throwable cause = e.getCause();
    return cause != null ? cause : e;
  }
}
