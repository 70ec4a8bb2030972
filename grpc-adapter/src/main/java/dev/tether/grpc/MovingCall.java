package dev.tether.grpc;

import static com.google.common.base.Preconditions.checkState;
import static java.util.Objects.requireNonNull;

import io.grpc.Attributes;
import io.grpc.CallOptions;
import io.grpc.ClientCall;
import io.grpc.Context;
import io.grpc.Contexts;
import io.grpc.Deadline;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import java.util.function.Consumer;
import org.jspecify.annotations.Nullable;

/**
 * A wait-for-ready call through a {@link PersistentChannel}, or a fail-fast one made while a
 * handover is in flight: a sequence of {@link CallAttempt}s, one live at a time, that moves to a
 * new attempt when its connection closes before the call was sent (see {@link CallAttempt} for
 * "sent"), so that it never sits in an abandoned channel. A wait-for-ready attempt waits for a
 * connection; a fail-fast one takes the current connection if it is READY, or fails at once.
 *
 * <p>While the call can move ({@link State#MOVABLE}) it keeps what the caller did since {@code
 * start} ({@link KeptOperations}): headers, messages, half-close, flow-control requests,
 * compression; a new attempt replays them in order. It keeps them no longer, for good ({@link
 * State#COMMITTED}), once the server answers (headers or a message), or once they would pass
 * their bound: past the bound the call stays where it is.
 *
 * <p>The call moves only if it was not cancelled, its deadline has not passed, its context was not
 * cancelled, its attempt ended unsent with UNAVAILABLE or because the mover ended it, and its
 * connection is closed, was replaced by a handover, or (for an attempt that ended UNAVAILABLE) is
 * no longer READY: its channel left READY, which is a drop, though the callback that tells the
 * connection may not have run yet. In those three cases an unsent UNAVAILABLE moves whatever
 * failed it, the call's credentials too (a token fetch that fails in the same network fault, say):
 * it never left this client, and runs again on the next connection. A channel that leaves READY
 * and is READY again before that callback runs (a reconnect faster than a task on the channel's
 * executor) is not seen as gone: a call refused in that window fails, as on a plain channel. An
 * attempt that fails with any other status (its credentials, an interceptor), or UNAVAILABLE on
 * a connection that is current and READY, fails the call: moving it would hide that failure and
 * run the call again. While a wait-for-ready attempt has no connection,
 * the call's deadline (timed on the persistent connection's scheduler) and its context bound
 * it; an attempt with a real call leaves those to it. A fail-fast attempt never waits for a
 * connection, so never needs them. The caller's listener is reached through {@link ToCaller}.
 */
final class MovingCall<ReqT, RespT> extends ClientCall<ReqT, RespT> {
  enum State {
    /** Not started. */
    NEW,
    /**
     * Started; what the caller does is kept, and the call moves if it is unsent when its
     * connection closes, or when it fails UNAVAILABLE on a connection a handover replaced.
     */
    MOVABLE,
    /** The call stays on its attempt: the server answered, or what it kept outgrew its bound. */
    COMMITTED,
    /** {@code onClose} is decided; nothing changes any more. */
    CLOSED
  }

  private final PersistentChannel owner;
  private final MethodDescriptor<ReqT, RespT> method;
  private final CallOptions options;
  private final Context context = Context.current();
  private final ToCaller<RespT> toCaller = new ToCaller<>(this::listenerThrew);
  /** The caller's listener threw: the call is cancelled and the caller's operations are ignored. */
  private volatile boolean listenerFailed;

  private final Object lock = new Object();
  private volatile State state = State.NEW; // written under lock
  private volatile @Nullable CallAttempt<ReqT, RespT> attempt; // written under lock: the live one
  private @Nullable Metadata headers; // guarded by lock
  private final KeptOperations<ReqT, RespT> kept; // guarded by lock
  private boolean cancelled; // guarded by lock: by the caller
  private @Nullable Status cancelledWith; // guarded by lock: the caller's cancel, once started
  /** An operation went past the bound while the call was being moved: it stays where it moves. */
  private boolean commitAfterMove; // guarded by lock
  /** Even past the bound, the caller sent too much while the call was being moved: it ends. */
  private boolean tooMuchToMove; // guarded by lock
  private boolean expired; // guarded by lock: the deadline timer fired
  private @Nullable Status closedBeforeStart; // guarded by lock
  private @Nullable WaitLimits waitLimits; // guarded by lock: made the first time the call waits

  MovingCall(PersistentChannel owner, MethodDescriptor<ReqT, RespT> method, CallOptions options) {
    this.owner = owner;
    this.method = method;
    this.options = options;
    this.kept = new KeptOperations<>(owner, method);
  }

  @Override
  public void start(Listener<RespT> listener, Metadata headers) {
    requireNonNull(listener, "listener");
    requireNonNull(headers, "headers");
    // Not under the lock: it asks the connection. Only a READY one: without, a wait-for-ready
    // call waits for the next and a fail-fast one fails (await).
    GrpcConnection<?> now = owner.openReadyConnection();
    CallAttempt<ReqT, RespT> first;
    Status early;
    synchronized (lock) {
      checkState(state == State.NEW && this.headers == null, "call already started");
      toCaller.set(listener);
      this.headers = headers;
      early = closedBeforeStart;
      state = early == null ? State.MOVABLE : State.CLOSED;
      // On an open connection the first attempt gets its real call before start is queued, so it
      // passes straight through; a cancel from now on reaches it and is never lost.
      first = early != null ? null : now != null ? publishLocked() : newAttemptLocked();
    }
    if (early != null) { // cancelled before start; never inside start(), though
      Calls.execute(
          Calls.executorOf(options), context.wrap(() -> toCaller.close(early, new Metadata())));
    } else if (now != null) {
      boolean attached = requireNonNull(first).attach(now);
      first.call.start(first, copyOfHeaders()); // also when not attached: it ends the call
      if (attached) {
        first.watch(now); // after start: a cancel to move it must not come first
      }
    } else {
      await(requireNonNull(first), null);
    }
  }

  private CallAttempt<ReqT, RespT> publishLocked() {
    CallAttempt<ReqT, RespT> next = new CallAttempt<>(this, method, options, context);
    attempt = next;
    return next;
  }

  /** Makes the next attempt live and replays into it what the caller did. Under the lock. */
  private CallAttempt<ReqT, RespT> newAttemptLocked() {
    CallAttempt<ReqT, RespT> next = publishLocked();
    // It has no real call yet, and nothing else can end it before this returns (everything that
    // does reads the live attempt under the lock): these only queue; no channel or user code runs.
    next.call.start(next, copyOfHeaders());
    kept.replayInto(next.call);
    return next;
  }

  private Metadata copyOfHeaders() {
    Metadata copy = new Metadata();
    copy.merge(requireNonNull(headers)); // a transport or an interceptor may modify what it sends
    return copy;
  }

  /**
   * Gives {@code next} a connection now or later; while it waits, the call's limits apply. A
   * fail-fast call never waits: with no ready connection it fails at once, with {@code why} (the
   * status the previous attempt ended with), if there was one.
   */
  private void await(CallAttempt<ReqT, RespT> next, @Nullable Status why) {
    if (!options.isWaitForReady()) {
      owner.connectOrFail(next, why);
      return;
    }
    if (!owner.await(next)) {
      return; // connected, or failed, at once
    }
    WaitLimits limits;
    synchronized (lock) {
      if (state == State.CLOSED || attempt != next) {
        owner.forget(next); // ended while it was being parked
        return;
      }
      limits = waitLimits;
      if (limits == null) {
        waitLimits = limits =
            new WaitLimits(context, options, owner.scheduler(), this::deadlinePassed, this::contextCancelled);
      }
    }
    try {
      limits.arm();
    } catch (RuntimeException e) { // the scheduler was shut down, or fails otherwise
      next.fail(Status.UNAVAILABLE.withDescription("no scheduler to time the deadline").withCause(e));
    }
  }

  private void deadlinePassed() {
    CallAttempt<ReqT, RespT> live;
    synchronized (lock) {
      expired = true;
      live = attempt;
    }
    if (live != null) { // an attempt with a real call has the same deadline and ends itself
      live.fail(
          Status.DEADLINE_EXCEEDED.withDescription(
              "deadline exceeded while waiting for a connection to " + owner.serverName()));
    }
  }

  private void contextCancelled(Context cancelled) {
    CallAttempt<ReqT, RespT> live;
    synchronized (lock) { // so that a move either sees the cancellation or publishes first
      live = attempt;
    }
    if (live != null) {
      live.fail(Contexts.statusFromCancelled(cancelled));
    }
  }

  // ---- the caller's operations ----

  /**
   * As gRPC does when a listener throws: the call is cancelled with what it threw, and what the
   * caller does after is ignored rather than refused (gRPC cancels the stream, not the call).
   */
  private void listenerThrew(String message, Throwable cause) {
    listenerFailed = true;
    cancel(message, cause);
  }

  /** Keeps {@code operation} while the call can move, then applies it to the live attempt. */
  private void run(Consumer<ClientCall<ReqT, RespT>> operation, @Nullable ReqT message) {
    if (listenerFailed) {
      return; // the call is ending: see listenerThrew
    }
    long bytes = message != null && state == State.MOVABLE ? kept.sizeOf(message) : 0;
    CallAttempt<ReqT, RespT> target;
    GrpcConnection<?> unwatch = null;
    synchronized (lock) {
      target = attempt;
      if (state == State.MOVABLE && !kept.keep(operation, bytes)) {
        if (target != null && target.endedToMove) {
          // Being moved off a closed connection, unsent: the move takes this along, and the
          // call then stays on the attempt it moved to; unless the caller, ignoring isReady(),
          // sends too much meanwhile: then the call ends where it is.
          commitAfterMove = true;
          if (!tooMuchToMove && !kept.keepPastTheBound(operation, bytes)) {
            tooMuchToMove = true;
          }
        } else {
          unwatch = commitLocked(); // too much to keep: the call stays where it is
        }
      }
    }
    checkState(target != null, "call not started");
    if (unwatch != null) {
      unwatch.removeCloseWatcher(target);
    }
    try {
      operation.accept(target.call);
    } catch (IllegalStateException e) {
      if (!target.abandoned && !target.endedToMove && !listenerFailed) {
        throw e;
      }
      // Cancelled a moment ago to move the call: the new attempt gets this operation replayed,
      // or, if the call does not move, it ends.
    }
  }

  @Override
  public void sendMessage(ReqT message) {
    run(call -> call.sendMessage(message), message);
  }

  @Override
  public void request(int numMessages) {
    run(call -> call.request(numMessages), null);
  }

  @Override
  public void halfClose() {
    run(ClientCall::halfClose, null);
  }

  @Override
  public void setMessageCompression(boolean enabled) {
    run(call -> call.setMessageCompression(enabled), null);
  }

  @Override
  public void cancel(@Nullable String message, @Nullable Throwable cause) {
    CallAttempt<ReqT, RespT> target;
    Status status = Status.CANCELLED.withDescription(message != null ? message : "call cancelled");
    Status cancel = cause != null ? status.withCause(cause) : status;
    synchronized (lock) {
      if (!cancelled) {
        cancelled = true;
        cancelledWith = cancel;
      }
      target = attempt;
      if (target == null && state == State.NEW) {
        closedBeforeStart = cancel;
      }
    }
    if (target != null) {
      target.call.cancel(message, cause); // always wins; its onClose reaches the caller
    }
  }

  @Override
  public boolean isReady() {
    CallAttempt<ReqT, RespT> live = attempt;
    // One being moved is not ready: the attempt it moves to says when it is (onReady).
    return live != null && !live.endedToMove && live.call.isReady();
  }

  @Override
  public Attributes getAttributes() {
    CallAttempt<ReqT, RespT> live = attempt;
    return live != null ? live.call.getAttributes() : Attributes.EMPTY;
  }

  @Override
  public String toString() {
    return "MovingCall[" + method.getFullMethodName() + " to " + owner.serverName() + ", " + state + "]";
  }

  // ---- what attempts tell ----

  /** Whether {@code from} is live and may run on {@code connection}, which it then records. */
  boolean takes(CallAttempt<ReqT, RespT> from, GrpcConnection<?> connection) {
    synchronized (lock) {
      if (attempt != from || state == State.CLOSED) {
        return false;
      }
      from.connection = connection;
      return true;
    }
  }

  boolean movable(CallAttempt<ReqT, RespT> from) {
    return state == State.MOVABLE && attempt == from;
  }

  /** The server answered {@code from}: the call can no longer move. */
  void answered(CallAttempt<ReqT, RespT> from) {
    if (state != State.MOVABLE) {
      return; // the usual case once committed: no lock per message
    }
    GrpcConnection<?> unwatch;
    synchronized (lock) {
      if (attempt != from || state != State.MOVABLE) {
        return;
      }
      unwatch = commitLocked();
    }
    if (unwatch != null) {
      unwatch.removeCloseWatcher(from);
    }
  }

  /** The call keeps nothing more; returns the connection to stop watching, if any. Under lock. */
  private @Nullable GrpcConnection<?> commitLocked() {
    state = State.COMMITTED;
    kept.drop();
    CallAttempt<ReqT, RespT> live = attempt;
    return live != null ? live.connection : null;
  }

  /**
   * Whether the end of {@code from} (with {@code status}, if its stream ended) moves the call.
   * {@code contextCancelled} and {@code connectionGone} are read before the lock: reading them
   * may run listeners, or ask the persistent connection.
   */
  private boolean shouldMoveLocked(
      CallAttempt<ReqT, RespT> from,
      @Nullable Status status,
      boolean contextCancelled,
      boolean connectionGone) {
    return attempt == from
        && state == State.MOVABLE
        // UNAVAILABLE: what gRPC ends an unsent call with when its channel or transport goes
        // (and what an attempt the mover ended reports). Any other failure is the call's own
        // (its credentials, an interceptor): moving would hide it and run it again.
        && (status == null || status.getCode() == Status.Code.UNAVAILABLE)
        // An attempt the mover cancelled counts as sent once a transport took its stream: a
        // stream reset before its headers' write completed may still have left this client.
        && !from.mayHaveReachedServer(status != null && !from.endedToMove)
        && !cancelled
        && !expired
        && !contextCancelled
        && !tooMuchToMove
        && connectionGone;
  }

  /**
   * Whether {@code from}'s connection is gone, for an attempt that ended with {@code status} (null:
   * its connection closed under it): closed; or, for an attempt that ended UNAVAILABLE, no longer
   * current (a handover replaced it and it waits out its grace: its server may have gone before
   * the channel noticed and the connection closed itself), or no longer READY (its channel left
   * READY, which is a drop, but the callback that tells the connection so has not run yet: the
   * call waits for the next connection, which that drop brings). Other failures of an attempt on
   * a replaced connection are the call's own and end it.
   */
  private boolean connectionGone(CallAttempt<ReqT, RespT> from, @Nullable Status status) {
    GrpcConnection<?> connection = from.connection;
    if (connection == null) {
      return false;
    }
    return connection.isClosed()
        || (status != null
            && status.getCode() == Status.Code.UNAVAILABLE
            && (!owner.isCurrent(connection) || !connection.isReady()));
  }

  /**
   * {@code from}'s connection closed: if the call may move off it, ends {@code from}, whose end
   * ({@link #attemptClosed}) then moves the call. It first seals the attempt, so that no
   * transport of the old channel (reconnecting after a GOAWAY, or retrying transparently) starts
   * its stream between this look and the cancel; one that took it already keeps it. The move is
   * still decided on what the ended attempt says, not here: an interceptor inside the channel (put
   * on its builder by the channel factory) that replaced the call's credentials bypasses the seal,
   * and a call a transport may have written out must not be sent twice.
   */
  void connectionClosed(CallAttempt<ReqT, RespT> from) {
    boolean contextCancelled = context.isCancelled();
    boolean gone = connectionGone(from, null);
    synchronized (lock) {
      // Sealed, no transport can start its stream from here on (see CallAttempt): one that took
      // it already keeps it, as the old channel would without a move.
      if (!shouldMoveLocked(from, null, contextCancelled, gone) || !from.seal()) {
        return;
      }
      from.endedToMove = true;
    }
    from.call.cancel(CallAttempt.MOVING, null);
  }

  void attemptClosed(CallAttempt<ReqT, RespT> from, Status ended, Metadata trailers) {
    boolean contextCancelled = context.isCancelled();
    boolean gone = connectionGone(from, ended);
    CallAttempt<ReqT, RespT> next = null;
    GrpcConnection<?> unwatch;
    Status status = ended;
    synchronized (lock) {
      if (attempt != from || state == State.CLOSED) {
        return; // an abandoned attempt
      }
      unwatch = from.connection;
      if (from.endedToMove
          && (ended.getCode() == Status.Code.CANCELLED
              || (ended.getCode() == Status.Code.UNAVAILABLE
                  && !from.mayHaveReachedServer(true)))) {
        // The mover's cancel, or the seal that came before it (or the old channel's refusal of
        // an unsent stream; a server's own UNAVAILABLE is kept): if the call does not move, the
        // caller learns why from the call, not from the mover.
        status = whyMovedAttemptEndedLocked(ended, contextCancelled);
      }
      if (shouldMoveLocked(from, status, contextCancelled, gone)) {
        from.abandoned = true;
        next = newAttemptLocked();
        if (commitAfterMove) {
          commitLocked(); // the new attempt has no connection yet: nothing to stop watching
        }
      } else {
        state = State.CLOSED;
        kept.drop();
      }
    }
    if (unwatch != null) {
      unwatch.removeCloseWatcher(from);
    }
    if (next != null) {
      // It never left this client and its connection went away. With nowhere ready to go, a
      // fail-fast call fails with its own status, or, if the mover ended it, with why there is
      // no connection.
      await(next, from.endedToMove ? null : status);
      return;
    }
    owner.forget(from);
    WaitLimits limits;
    synchronized (lock) {
      limits = waitLimits;
    }
    if (limits != null) {
      limits.release();
    }
    toCaller.close(status, trailers);
  }

  /**
   * The status of an attempt that the mover ended to move the call ({@code ended}: the cancel's
   * CANCELLED, or the seal's UNAVAILABLE), as the caller should see it if the call does not
   * move: the caller's cancel, the context's, the deadline, or else the connection that closed.
   * Under the lock.
   */
  private Status whyMovedAttemptEndedLocked(Status ended, boolean contextCancelled) {
    if (cancelledWith != null) {
      return cancelledWith;
    }
    if (contextCancelled) {
      return Contexts.statusFromCancelled(context);
    }
    Deadline deadline = options.getDeadline();
    if (expired || (deadline != null && deadline.isExpired())) {
      return Status.DEADLINE_EXCEEDED.withDescription(
          "deadline exceeded while moving the call off a closed connection to " + owner.serverName());
    }
    return Status.UNAVAILABLE
        .withDescription("the connection to " + owner.serverName() + " closed under the call")
        .withCause(ended.asRuntimeException());
  }

  void deliver(
      CallAttempt<ReqT, RespT> from, ToCaller.Callback callback, @Nullable Object argument) {
    toCaller.deliver(from, callback, argument);
  }
}
