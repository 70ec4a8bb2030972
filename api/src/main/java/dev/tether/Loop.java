package dev.tether;

import static com.google.common.base.Preconditions.checkState;

import dev.tether.LoopState.Attempting;
import dev.tether.LoopState.Closed;
import dev.tether.LoopState.Closing;
import dev.tether.LoopState.Connected;
import dev.tether.LoopState.Current;
import dev.tether.LoopState.Next;
import dev.tether.LoopState.Waiting;
import dev.tether.internal.StateText;
import dev.tether.internal.UncancellableFuture;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.Map;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicReference;
import org.jspecify.annotations.Nullable;

/**
 * The loop of one persistent connection: a state machine over {@link LoopState}, whose {@link
 * #state} only {@link #moveTo} changes, in the serializing context. Every step runs there; other
 * threads read only {@link #state} and {@link #published} (both volatile, written in steps), and
 * {@link #handover}. {@link PersistentConnectionImpl} is its public face.
 *
 * <p>A step that finds {@code close()} called acts on it at once ({@link #stopping()}), so no
 * event follows a close but the {@code Disconnected} of the connection it closes.
 *
 * <p>User code (lookup, connector, initializer, retry delay, listeners, the logger, connections'
 * methods, and the callbacks of futures the loop completes) runs inside steps, guarded so that
 * whatever it throws cannot break the loop, and never under a lock.
 */
final class Loop<A, C extends Closable> implements Attempt.Outcomes<A, C>, Handover.Host<A, C> {
  final LoopParts<A, C> parts;
  final SerializingContext context;
  final Listeners<A, C> listeners;
  final StateListeners<A, C> stateListeners;
  final Waiters<C> waiters;
  /** The future of the handover asked for or in flight, shared by the callers of handOver(). */
  final AtomicReference<@Nullable UncancellableFuture<C>> handover = new AtomicReference<>();
  private final Settings<A, C> settings;
  private final Tally<A, C> tally;
  private final ConnectionCloser<C> closer;
  private final Waiters.Source<C> source;
  /**
   * The latest connection whose {@code Connected} was delivered, and whose waiters got it: from
   * then on {@code connected()} hands it out at once. Written in steps, read by any thread.
   */
  volatile @Nullable C handedOut;

  /**
   * Connections a handover replaced, from the switch until their close completes, each with
   * whether it was retired yet (at the end of the switching step). Closing the loop closes them
   * at once. Confined to the context.
   */
  private final Map<C, Boolean> retiring = new IdentityHashMap<>();
  /** Written only by {@link #moveTo}. */
  volatile LoopState<A, C> state = Waiting.beforeFirstRound();
  /** Round attempts started; read by {@code retryNow()} on any thread, written in steps. */
  @SuppressWarnings("NonAtomicVolatileUpdate") // written in steps only, which run one at a time
  private volatile long roundAttemptsStarted;
  /** What the loop last published, for any thread; written only by {@link #publish()}. */
  private volatile Tally.Snapshot<A, C> published;

  Loop(Settings<A, C> settings, Waiters.Source<C> source) {
    this.settings = settings;
    this.source = source;
    this.parts =
        new LoopParts<>(
            settings, this::finishCloseIfDone, this::ended, this::rejected, this::publish);
    this.context = parts.context;
    this.tally = parts.tally;
    this.closer = parts.closer;
    this.listeners =
        new Listeners<>(
            context,
            parts.log,
            settings.listeners(),
            () -> state instanceof Closing<A, C> closing && closing.announced());
    this.stateListeners = new StateListeners<>(context, parts.log);
    this.waiters = new Waiters<>(context, source, parts.log);
    this.published = tally.snapshot(state);
  }

  /**
   * The state the loop last published, seen from any thread: {@code CLOSING} as soon as {@code
   * close()} was called, before its step runs.
   */
  ConnectionState<A, C> snapshot() {
    ConnectionState<A, C> now = published.read();
    return parts.closeRequested() && now.status().compareTo(ConnectionState.Status.CLOSING) < 0
        ? now.with(ConnectionState.Status.CLOSING, null)
        : now;
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
    if (!(next instanceof Connected)) {
      handedOut = null; // read only while Connected: a dropped connection is not kept through an outage
    }
    RetryTimer timer = previous.timer();
    if (timer != null && timer != next.timer()) {
      timer.cancel();
    }
    publish();
  }

  /**
   * Publishes the state, as the loop's state and tally now say, and offers it to the state
   * listeners: the one place a {@link ConnectionState} is made, before the event that goes with
   * it. Listeners see {@code CLOSING} as soon as {@code close()} was called, as {@link
   * #snapshot()}.
   */
  private void publish() {
    Tally.Snapshot<A, C> next = tally.snapshot(state);
    if (next.sameAs(published)) {
      return; // only what the loop keeps to itself changed: nothing to tell
    }
    published = next;
    stateListeners.publish(snapshot());
  }

  /**
   * Whether {@code close()} was called. If so, the loop closes now, unless it is closing already:
   * the step that asked must stop. Also the step that {@code close()} queues.
   */
  boolean stopping() {
    context.checkInContext();
    if (!parts.closeRequested()) {
      return false;
    }
    LoopState<A, C> now = state;
    if (!(now instanceof Closing || now instanceof Closed)) {
      Current<C> current = now.current();
      moveTo(new Closing<>(current, now instanceof Connected<A, C> c && c.announced()));
      waiters.closed(source.closedException());
      if (now instanceof Attempting<A, C> attempting && attempting.attempt() != null) {
        attempting.attempt().cancel();
      }
      if (now instanceof Connected<A, C> connected) {
        connected.endBackground(source.closedException());
      }
      new ArrayList<>(retiring.keySet()).forEach(this::closeRetiring);
      if (current != null) {
        // Its closeFinished() reports the same; whichever comes first counts.
        closer.close(current.connection(), () -> ended(current.connection()));
      }
    }
    finishCloseIfDone();
    return true;
  }

  private void finishCloseIfDone() {
    if (state instanceof Closing<A, C> closing
        && closing.current() == null
        && closer.idle()) {
      moveTo(new Closed<>()); // callbacks of closeFinished() see CLOSED
      parts.log.complete("the closeFinished() future", () -> parts.closeFinished.set(null));
    }
  }

  /** The first round, unless {@link #retryNow()} started it already. */
  void firstRound() {
    if (state instanceof Waiting<A, C> waiting && waiting.timer() == null) {
      waitOver(true);
    }
  }

  /**
   * A timer fired ({@code takeToken}), or {@link #retryNow()} cut it short: if the loop waits, it
   * goes on.
   */
  void waitOver(boolean takeToken) {
    if (!stopping() && state instanceof Waiting<A, C> waiting) {
      switch (waiting.next()) {
        case ROUND -> startRound(takeToken, null);
        case ATTEMPT -> startAttempt(takeToken);
        case ATTEMPT_WITH_TOKEN -> startAttempt(false);
      }
    }
  }

  /**
   * {@link PersistentConnection#retryNow()} found the loop waiting when {@code seen} round attempts
   * had started: if none started since, the loop still waits for the attempt asked for (on its
   * timer, or on a budget token that the timer's step went on to wait for), and starts it now. If
   * one started since, it was that attempt: a later wait (after it failed) is left alone.
   */
  void retryNow(long seen) {
    if (roundAttemptsStarted == seen) {
      waitOver(false); // no token
    }
  }

  /** Round attempts started so far; for {@link #retryNow(long)}. Written in steps only. */
  long roundAttemptsStarted() {
    return roundAttemptsStarted;
  }

  private void timerFired() {
    waitOver(true);
  }

  /** Starts a round; with a live {@code standby}, the round takes it, with no attempt. */
  private void startRound(boolean takeToken, Standby.@Nullable Live<A, C> standby) {
    tally.newRound();
    moveTo(new Attempting<>(null));
    if (!emit(new Event.AttemptingToConnect<>(), null)) {
      retire(standby);
    } else if (standby == null) {
      startAttempt(takeToken);
    } else if (announceAddress(standby.address())) {
      publishConnection(standby.current(), standby.timer());
      closer.release(); // current now: the loop's close waits for it as such
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
    roundAttemptsStarted++; // only steps write it
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
    return isNew ? emit(new Event.ObtainedAddress<>(address), null) : !stopping();
  }

  /**
   * Emits {@code event} unless the loop is stopping; returns false if it is stopping (then or
   * after). Not for an event the grammar requires: a Disconnected, a Connected announced.
   */
  private boolean emit(Event<A, C> event, @Nullable Object detail) {
    if (stopping()) {
      return false;
    }
    listeners.emit(event, detail);
    return !stopping();
  }

  @Override
  public void ready(Attempt<A, C> attempt, C connection) {
    if (parts.closeRequested()) {
      closer.closeUnpublished(connection); // never handed out
      stopping();
      return;
    }
    publishConnection(Current.of(connection), attempt.timer());
  }

  /** Makes {@code current} current, completes the waiters and announces it. */
  private void publishConnection(Current<C> current, RetryTimer timer) {
    timer.retarget(this::timerFired); // a standby's timer, too, now says when the loop goes on
    tally.connected();
    Connected<A, C> connected = new Connected<>(current, timer, false, null, null);
    handedOut = null; // a connector may yield the same object again: not handed out until announced
    moveTo(connected);
    if (stopping()) {
      return; // close() came first: closed as a late connection, never announced or handed out
    }
    // Announced before the waiters get it: whoever got it from connected() and closes at once
    // sees Connected, then Disconnected; a listener of Connected that closes leaves the waiters
    // waiting, as connected() does after close().
    announce(connected);
  }

  /**
   * Emits {@code Connected}, completes the waiters with the connection, then starts a standby if
   * one is wanted.
   */
  private void announce(Connected<A, C> connected) {
    Connected<A, C> announced = connected.announce();
    C connection = announced.current().connection();
    moveTo(announced);
    listeners.emit(new Event.Connected<>(connection));
    try {
      waiters.connected(connection, parts::closeRequested);
    } finally {
      handedOut = connection;
    }
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
    boolean goOn = isNew ? emit(new Event.FailedToConnect<>(error), null) : !stopping();
    if (goOn && atOnce) {
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
    if (standby != null) {
      // Counted until the round publishes it or closes it: a close() from a listener of the
      // events before that waits for it.
      closer.hold();
    }
    // A connection that outlived its attempt's timer is replaced at once, as is one with a live
    // standby: no waiting then.
    boolean atOnce = standby != null || dropped.timer().fired();
    moveTo(atOnce ? new Attempting<>(null) : new Waiting<>(dropped.timer(), Next.ROUND));
    dropped.endBackground(new IllegalStateException("the current connection dropped"));
    listeners.emit(
        new Event.Disconnected<>(),
        standby != null ? "switching to the standby" : StateText.next(snapshot()));
    if (!stopping() && atOnce) {
      startRound(true, standby);
    } else {
      retire(standby);
    }
  }

  // ---- handover ----

  void startHandover(UncancellableFuture<C> result) {
    Handover<A, C> started = new Handover<>(parts, this, result, handover);
    if (stopping()) {
      started.stop(source.closedException());
    } else if (state instanceof Connected<A, C> connected && connected.handover() == null) {
      moveTo(connected.with(connected.standby(), started));
      started.start();
    } else {
      started.follow(waiters.nextOutcome()); // not connected: the next outcome,
      waitOver(false); // and no more waiting for it
    }
  }

  @Override
  public boolean handoverObtained(Handover<A, C> handover, A address) {
    if (stopping()) {
      return false;
    }
    Connected<A, C> connected = (Connected<A, C>) state;
    if (tally.sameAddress(address, tally.roundAddress())) {
      moveTo(connected.with(connected.standby(), null));
      handover.succeed(connected.current().connection());
      return false;
    }
    Standby<A, C> standby = connected.standby();
    Standby.Live<A, C> live = standby == null ? null : standby.takeIfAt(address);
    if (live != null) {
      handOverTo(connected, handover, live.current(), live.address(), live.timer(), null);
    }
    return live == null;
  }

  @Override
  public void handedOver(Handover<A, C> handover, C connection, A address, RetryTimer timer) {
    if (parts.closeRequested()) {
      closer.closeUnpublished(connection); // never handed out
      stopping();
      return;
    }
    Connected<A, C> old = (Connected<A, C>) state;
    handOverTo(old, handover, Current.of(connection), address, timer, old.standby());
  }

  /**
   * Makes {@code next} current in one step, emits the events of a round that ends with it, then
   * closes the old connection (DESIGN 7.5) and completes the handover. Keeps {@code standby}, or
   * starts a new one.
   */
  private void handOverTo(
      Connected<A, C> old,
      Handover<A, C> handover,
      Current<C> next,
      A address,
      RetryTimer timer,
      @Nullable Standby<A, C> standby) {
    timer.retarget(this::timerFired);
    tally.newRound();
    tally.obtained(address);
    tally.connected();
    if (standby != null && standby.isAt(address)) {
      standby.stop(); // it would stand by for the new current connection's own server
      standby = null;
    }
    Connected<A, C> connected = new Connected<>(next, timer, false, standby, null);
    handedOut = null;
    moveTo(connected);
    C replaced = old.current().connection();
    retiring.put(replaced, false); // before any listener runs: a close() from one closes it
    closer.hold();
    listeners.emit(new Event.Disconnected<>(), new HandedOverTo(address)); // the old one's
    if (emit(new Event.AttemptingToConnect<>(), null)
        && emit(new Event.ObtainedAddress<>(address), null)) {
      // Waiters that queued meanwhile (the old connection was closed, or this one not yet
      // announced) get this one.
      announce(connected);
    }
    if (Boolean.FALSE.equals(retiring.get(replaced))) {
      // Closed now, as 7.5 says; a gRPC connection lets calls that picked it just before the
      // switch still start on its channel for a short grace (Retirable).
      retiring.put(replaced, true);
      closer.retire(replaced, () -> closed(replaced));
    }
    if (parts.closeRequested()) {
      handover.closedMeanwhile(source.closedException()); // its connection is being closed
    } else {
      handover.succeed(next.connection());
    }
  }

  /** The loop closes: closes {@code old}, which a handover replaced, at once. */
  private void closeRetiring(C old) {
    if (Boolean.TRUE.equals(retiring.get(old))) {
      closer.expedite(old); // retired already: its close ends that retirement early
    } else {
      retiring.put(old, true);
      closer.close(old, () -> closed(old));
    }
  }

  /** The close of {@code old}, which a handover replaced, completed. */
  private void closed(C old) {
    retiring.remove(old);
    closer.release();
  }

  @Override
  public void handoverFailed(Handover<A, C> handover) {
    if (state instanceof Connected<A, C> connected && connected.handover() == handover) {
      moveTo(connected.with(connected.standby(), null));
    }
  }

  /** Closes a live standby that {@link #ended} took and no round made current; it is held. */
  private void retire(Standby.@Nullable Live<A, C> standby) {
    if (standby != null) {
      standby.timer().cancel();
      closer.close(standby.current().connection(), closer::release);
    }
  }

  private void rejected(RejectedExecutionException e) {
    parts.log.error("the scheduler rejected a task; closing", e);
    if (parts.closeRequested.compareAndSet(false, true)) {
      context.execute(this::stopping);
    }
  }

  /**
   * The detail of the old connection's {@code Disconnected} in a handover, made text only by the
   * log: the address is user code, whose {@code toString()} may throw.
   */
  private record HandedOverTo(Object address) {
    @Override
    public String toString() {
      return "handed over to " + address;
    }
  }
}
