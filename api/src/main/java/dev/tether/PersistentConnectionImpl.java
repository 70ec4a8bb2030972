package dev.tether;

import static com.google.common.base.Preconditions.checkState;

import com.google.common.util.concurrent.Futures;
import com.google.common.util.concurrent.ListenableFuture;
import dev.tether.LoopState.Attempting;
import dev.tether.LoopState.Closed;
import dev.tether.LoopState.Closing;
import dev.tether.LoopState.Connected;
import dev.tether.LoopState.Current;
import dev.tether.LoopState.Next;
import dev.tether.LoopState.Waiting;
import dev.tether.internal.Scheduled;
import dev.tether.internal.StateText;
import dev.tether.internal.UncancellableFuture;
import java.util.Objects;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.jspecify.annotations.Nullable;

/**
 * The persistent connection's loop: a state machine over {@link LoopState}, whose {@link #state}
 * only {@link #moveTo} changes, in the serializing context. Every step runs there; other threads
 * read only {@link #state} and {@link #published} (both volatile), {@link #closeRequested} (set
 * by {@link #close()} before its step runs), {@link #handover} and {@link #closeFinished}.
 *
 * <p>A step that finds {@code close()} called acts on it at once ({@link #stopping()}), so no
 * event follows a close but the {@code Disconnected} of the connection it closes.
 *
 * <p>User code (lookup, connector, initializer, retry delay, listeners, the logger, connections'
 * methods, and the callbacks of futures this class completes) runs inside steps, guarded so that
 * whatever it throws cannot break the loop, and never under a lock.
 */
final class PersistentConnectionImpl<A, C extends Closable>
    implements PersistentConnection<A, C>,
        Scheduled,
        Waiters.Source<C>,
        Attempt.Outcomes<A, C>,
        Handover.Host<A, C> {
  private final Settings<A, C> settings;
  private final LoopParts<A, C> parts;
  private final SerializingContext context;
  private final Tally<A, C> tally;
  private final Listeners<A, C> listeners;
  private final StateListeners<A, C> stateListeners;
  private final Waiters<C> waiters;
  private final AtomicBoolean closeRequested = new AtomicBoolean();
  private final UncancellableFuture<Void> closeFinished = new UncancellableFuture<>();
  /** The future of the handover asked for or in flight, shared by the callers of handOver(). */
  private final AtomicReference<@Nullable UncancellableFuture<C>> handover = new AtomicReference<>();
  /** Written only by {@link #moveTo}. */
  private volatile LoopState<A, C> state = Waiting.beforeFirstRound();
  /** What the loop last published, for any thread; written only by {@link #publish()}. */
  private volatile Tally.Snapshot<A, C> published;

  PersistentConnectionImpl(Settings<A, C> settings) {
    this.settings = settings;
    this.parts =
        new LoopParts<>(
            settings, this::finishCloseIfDone, this::ended, this::rejected, closeRequested::get);
    this.context = parts.context;
    this.tally = parts.tally;
    this.listeners = new Listeners<>(context, parts.log, settings.listeners());
    this.stateListeners = new StateListeners<>(context, parts.log);
    this.waiters = new Waiters<>(context, this);
    this.published = tally.snapshot(state);
  }

  /** Hands the first round to the scheduler. Runs no user code. */
  void start() {
    try {
      scheduler().execute(() -> context.execute(this::firstRound));
    } catch (RejectedExecutionException e) {
      rejected(e);
    }
  }

  // ---- public API ----

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
    return stateListeners.subscribe(Objects.requireNonNull(listener, "listener"), this::state);
  }

  @Override
  public Subscription subscribe(EventListener<A, C> listener) {
    return listeners.subscribe(Objects.requireNonNull(listener, "listener"));
  }

  @Override
  public boolean retryNow() {
    if (state().status() != ConnectionState.Status.WAITING_TO_RETRY) {
      return false;
    }
    context.execute(() -> waitOver(false)); // no token
    return true;
  }

  @Override
  public ListenableFuture<C> handOver() {
    if (closeRequested.get()) {
      return Futures.immediateFailedFuture(closedException());
    }
    UncancellableFuture<C> fresh = new UncancellableFuture<>();
    UncancellableFuture<C> shared = handover.updateAndGet(f -> f != null ? f : fresh);
    if (shared == fresh) {
      context.execute(() -> startHandover(fresh));
    }
    return shared;
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
    return "PersistentConnection[" + serverName() + ", " + state.status() + "]";
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
   * it. Listeners see {@code CLOSING} as soon as {@code close()} was called, as {@link #state()}.
   */
  private void publish() {
    published = tally.snapshot(state);
    stateListeners.publish(state());
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
      if (now instanceof Connected<A, C> connected) {
        endBackground(connected, closedException());
      }
      if (current != null) {
        // Its closeFinished() reports the same; whichever comes first counts.
        parts.closer.close(current.connection(), () -> ended(current.connection()));
      }
    }
    finishCloseIfDone();
    return true;
  }

  private void finishCloseIfDone() {
    if (state instanceof Closing<A, C> closing
        && closing.current() == null
        && parts.closer.idle()) {
      moveTo(new Closed<>()); // callbacks of closeFinished() see CLOSED
      closeFinished.set(null);
    }
  }

  /** The first round, unless {@link #retryNow()} started it already. */
  private void firstRound() {
    if (state instanceof Waiting<A, C> waiting && waiting.timer() == null) {
      waitOver(true);
    }
  }

  /**
   * A timer fired ({@code takeToken}), or {@link #retryNow()} cut it short: if the loop waits, it
   * goes on.
   */
  private void waitOver(boolean takeToken) {
    if (!stopping() && state instanceof Waiting<A, C> waiting) {
      switch (waiting.next()) {
        case ROUND -> startRound(takeToken, null);
        case ATTEMPT -> startAttempt(takeToken);
        case ATTEMPT_WITH_TOKEN -> startAttempt(false);
      }
    }
  }

  private void timerFired() {
    waitOver(true);
  }

  /** Starts a round; with a live {@code standby}, the round takes it, with no attempt. */
  private void startRound(boolean takeToken, Standby.@Nullable Live<A, C> standby) {
    tally.newRound();
    moveTo(new Attempting<>(null));
    if (!stopping()) {
      listeners.emit(new Event.AttemptingToConnect<>());
    }
    if (stopping()) {
      retire(standby);
    } else if (standby == null) {
      startAttempt(takeToken);
    } else if (announceAddress(standby.address())) {
      publishConnection(standby.current(), standby.timer());
    } else {
      retire(standby);
    }
  }

  private void startAttempt(boolean takeToken) {
    RetryTimer token = takeToken ? parts.waitForToken(this::timerFired) : null;
    if (token != null) {
      moveTo(new Waiting<>(token, Next.ATTEMPT_WITH_TOKEN));
      return;
    }
    if (stopping()) {
      return; // the scheduler rejected the token's timer
    }
    Attempt<A, C> attempt = parts.newAttempt(tally.consecutiveFailures(), this::timerFired, this);
    if (attempt == null) {
      stopping(); // the scheduler rejected the timer
      return;
    }
    moveTo(new Attempting<>(attempt));
    if (!stopping()) {
      attempt.lookUp();
    }
  }

  @Override
  public void obtained(Attempt<A, C> attempt, A address) {
    if (!stopping() && announceAddress(address)) {
      attempt.connect(address);
    }
  }

  /** The round's lookup yielded {@code address}; returns false if the loop is stopping. */
  private boolean announceAddress(A address) {
    boolean isNew = tally.obtained(address);
    publish();
    if (isNew && !stopping()) {
      listeners.emit(new Event.ObtainedAddress<>(address));
    }
    return !stopping();
  }

  @Override
  public void ready(Attempt<A, C> attempt, C connection) {
    if (closeRequested.get()) {
      parts.closer.closeUnpublished(connection); // never handed out
      stopping();
      return;
    }
    publishConnection(Current.of(connection), attempt.timer());
  }

  /** Makes {@code current} current, completes the waiters and announces it. */
  private void publishConnection(Current<C> current, RetryTimer timer) {
    tally.connected();
    Connected<A, C> connected = new Connected<>(current, timer, false, null, null);
    moveTo(connected);
    waiters.connected(current.connection(), closeRequested::get);
    if (!stopping()) { // else a waiter closed us: no Connected, and so no Disconnected either
      announce(connected);
    }
  }

  /** Emits {@code Connected}, then starts a standby if one is wanted. */
  private void announce(Connected<A, C> connected) {
    Connected<A, C> announced = connected.announce();
    moveTo(announced);
    listeners.emit(new Event.Connected<>(announced.current().connection()));
    if (!stopping() && settings.standby() && announced.standby() == null) {
      Standby<A, C> standby = new Standby<>(parts, tally::roundAddress, this::publish);
      moveTo(announced.with(standby, announced.handover()));
      standby.start();
    }
  }

  @Override
  public void failed(Attempt<A, C> attempt, ConnectAttemptException error) {
    if (stopping()) {
      return; // closing raced this attempt: no FailedToConnect after close
    }
    boolean isNew = tally.failed(error);
    // The next attempt starts at once if this one outlasted its timer: no waiting then.
    boolean atOnce = attempt.timer().fired();
    moveTo(atOnce ? new Attempting<>(null) : new Waiting<>(attempt.timer(), Next.ATTEMPT));
    waiters.failed(error);
    if (isNew && !stopping()) {
      listeners.emit(new Event.FailedToConnect<>(error));
    }
    if (!stopping() && atOnce) {
      startAttempt(true);
    }
  }

  /** A connection's {@code closeFinished()} completed, or the close of the loop did. */
  void ended(C connection) {
    context.checkInContext();
    LoopState<A, C> now = state;
    if (now instanceof Connected<A, C> c && c.standby() != null && c.standby().dropped(connection)) {
      return;
    }
    Current<C> current = now.current();
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
    Connected<A, C> dropped = (Connected<A, C>) state;
    Standby.Live<A, C> standby = dropped.standby() == null ? null : dropped.standby().take();
    endBackground(dropped, new IllegalStateException("the current connection dropped"));
    // A connection that outlived its attempt's timer is replaced at once, as is one with a live
    // standby: no waiting then.
    boolean atOnce = standby != null || dropped.timer().fired();
    moveTo(atOnce ? new Attempting<>(null) : new Waiting<>(dropped.timer(), Next.ROUND));
    listeners.emit(
        new Event.Disconnected<>(),
        standby != null ? "switching to the standby" : StateText.next(state()));
    if (!stopping() && atOnce) {
      startRound(true, standby);
    } else {
      retire(standby);
    }
  }

  // ---- handover ----

  private void startHandover(UncancellableFuture<C> result) {
    if (stopping()) {
      handoverEnded(result).setException(closedException());
    } else if (state instanceof Connected<A, C> connected && connected.handover() == null) {
      Handover<A, C> started = new Handover<>(parts, this, result);
      moveTo(connected.with(connected.standby(), started));
      started.start();
    } else {
      // Not connected: the next outcome, and no more waiting for it.
      handoverEnded(result).setFuture(connectedOrFailedToConnect());
      waitOver(false);
    }
  }

  @Override
  public boolean handoverObtained(Handover<A, C> handover, A address) {
    if (stopping()) {
      return false;
    }
    Connected<A, C> connected = (Connected<A, C>) state;
    Standby<A, C> standby = connected.standby();
    if (tally.sameAddress(address, tally.roundAddress())) {
      moveTo(connected.with(standby, null));
      handoverEnded(handover.result).set(connected.current().connection());
      return false;
    }
    Standby.Live<A, C> live = standby == null ? null : standby.takeIfAt(address);
    if (live == null) {
      return true;
    }
    handOverTo(connected, handover, live.current(), live.address(), live.timer(), null);
    return false;
  }

  @Override
  public void handedOver(Handover<A, C> handover, C connection, A address, RetryTimer timer) {
    if (closeRequested.get()) {
      parts.closer.closeUnpublished(connection); // never handed out
      stopping();
      return;
    }
    Connected<A, C> old = (Connected<A, C>) state;
    handOverTo(old, handover, Current.of(connection), address, timer, old.standby());
  }

  /**
   * Makes {@code next} current in one step, emits the events of a round that ends with it, then
   * closes the old connection (gracefully: its close is counted by closeFinished()). Keeps {@code
   * standby}, or starts a new one.
   */
  private void handOverTo(
      Connected<A, C> old,
      Handover<A, C> handover,
      Current<C> next,
      A address,
      RetryTimer timer,
      @Nullable Standby<A, C> standby) {
    tally.newRound();
    tally.obtained(address);
    tally.connected();
    Connected<A, C> connected = new Connected<>(next, timer, false, standby, null);
    moveTo(connected);
    parts.closer.hold(); // the old connection, closed below, whatever the listeners do
    handoverEnded(handover.result).set(next.connection());
    if (!stopping()) {
      listeners.emit(new Event.Disconnected<>(), "handed over to " + address);
    }
    if (!stopping()) {
      listeners.emit(new Event.AttemptingToConnect<>());
    }
    if (!stopping()) {
      listeners.emit(new Event.ObtainedAddress<>(address));
    }
    if (!stopping()) {
      announce(connected);
    }
    parts.closer.closeUnpublished(old.current().connection());
    parts.closer.release();
  }

  @Override
  public void handoverFailed(Handover<A, C> handover) {
    handoverEnded(handover.result);
    if (state instanceof Connected<A, C> connected && connected.handover() == handover) {
      moveTo(connected.with(connected.standby(), null));
    }
  }

  /** The handover whose future is {@code result} is over: the next handOver() starts another. */
  private UncancellableFuture<C> handoverEnded(UncancellableFuture<C> result) {
    handover.compareAndSet(result, null);
    return result;
  }

  /** Stops what a connected period runs in the background: its handover and its standby. */
  private void endBackground(Connected<A, C> connected, Throwable why) {
    Handover<A, C> inFlight = connected.handover();
    if (inFlight != null) {
      handoverEnded(inFlight.result);
      inFlight.stop(why);
    }
    if (connected.standby() != null) {
      connected.standby().stop();
    }
  }

  /** Closes a live standby that no round took. */
  private void retire(Standby.@Nullable Live<A, C> standby) {
    if (standby != null) {
      parts.closer.closeUnpublished(standby.current().connection());
    }
  }

  private void rejected(RejectedExecutionException e) {
    parts.log.error("the scheduler rejected a task; closing", e);
    ListenableFuture<Void> unused = close();
  }

  // ---- what the waiters need ----

  @Override
  public @Nullable ListenableFuture<C> openConnection() {
    Current<C> current = state.current();
    return current != null && !parts.closer.isClosed(current.connection())
        ? current.future()
        : null;
  }

  @Override
  public boolean closeRequested() {
    return closeRequested.get();
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
