package dev.tether.grpc;

import static com.google.common.base.Preconditions.checkState;
import static com.google.common.util.concurrent.MoreExecutors.directExecutor;
import static java.util.Objects.requireNonNull;

import dev.tether.internal.SerializingExecutor;
import io.grpc.Attributes;
import io.grpc.CallOptions;
import io.grpc.ClientCall;
import io.grpc.ClientStreamTracer;
import io.grpc.Context;
import io.grpc.Contexts;
import io.grpc.Deadline;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Future;
import java.util.function.Consumer;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A wait-for-ready call through a {@link PersistentChannel}: it runs as a sequence of
 * <em>attempts</em>, each a {@link DelayedCall} that waits for a connection and then passes
 * through to a real call on that connection's channel, and it moves to a new attempt when its
 * connection drops before the call was sent.
 *
 * <p>While the call can move ({@link State#MOVABLE}) it keeps what the caller did since {@code
 * start} (headers, messages, half-close, flow-control requests, compression), so that a new
 * attempt replays it in order. It stops keeping it, for good, once the server answers (headers or
 * a message: {@link State#COMMITTED}), or once the kept messages pass {@value #MAX_KEPT_BYTES}
 * bytes (like gRPC's retry buffer: past the bound the call stays where it is). A unary or
 * server-streaming call's one request is kept without being measured.
 *
 * <p>The call moves only if its stream never sent headers (a stream tracer tells; a stream that
 * gRPC retries transparently was never processed by the server, so it counts as unsent again), it
 * was not cancelled, its deadline has not passed, and its connection is closed. Such a call never
 * reached a server, so moving it cannot run it twice.
 *
 * <p>While an attempt has no connection the call is bounded by its deadline and the deadline and
 * cancellation of the {@link Context} it was made in; an attempt with a real call leaves those to
 * it. The caller's listener gets its callbacks one at a time, never from an abandoned attempt but
 * for a harmless extra {@code onReady}, and {@code onClose} exactly once; they run on the call's
 * executor (see {@link Calls}). A listener that throws from {@code onHeaders}, {@code onMessage}
 * or {@code onReady} cancels the call, as in gRPC.
 */
final class MovingCall<ReqT, RespT> extends ClientCall<ReqT, RespT> {
  private static final Logger logger = LoggerFactory.getLogger(MovingCall.class);
  /** The most bytes of messages kept for a move, as gRPC's default per-call retry buffer. */
  static final long MAX_KEPT_BYTES = 1 << 20;
  /** What each kept operation counts for, so that operations without a message are bounded too. */
  private static final long OPERATION_BYTES = 16;

  enum State {
    /** Not started. */
    NEW,
    /** Started; what the caller does is kept, and the call moves if its connection drops unsent. */
    MOVABLE,
    /** The call stays on its attempt: the server answered, or the kept operations outgrew the bound. */
    COMMITTED,
    /** {@code onClose} is decided; nothing changes any more. */
    CLOSED
  }

  private final PersistentChannel owner;
  private final MethodDescriptor<ReqT, RespT> method;
  private final CallOptions options;
  private final Context context = Context.current();
  private final SerializingExecutor toCaller =
      new SerializingExecutor(t -> logger.warn("a call listener's onClose threw", t));
  private final Context.CancellationListener onContextCancelled =
      cancelled -> {
        Attempt live = this.attempt;
        if (live != null) {
          live.call.failIfNotSet(Contexts.statusFromCancelled(cancelled));
        }
      };

  private final Object lock = new Object();
  private volatile State state = State.NEW; // written under lock
  private volatile @Nullable Attempt attempt; // written under lock: the live attempt
  private @Nullable Listener<RespT> listener; // guarded by lock
  private @Nullable Metadata headers; // guarded by lock
  private final List<Consumer<ClientCall<ReqT, RespT>>> kept = new ArrayList<>(); // guarded by lock
  private long keptBytes; // guarded by lock
  private boolean cancelled; // guarded by lock: by the caller
  private boolean expired; // guarded by lock: the deadline timer fired
  private @Nullable Status closedBeforeStart; // guarded by lock
  private boolean waitLimitsArmed; // guarded by lock
  private @Nullable Future<?> deadlineTimer; // guarded by lock
  private boolean closeDelivered; // confined to toCaller

  MovingCall(PersistentChannel owner, MethodDescriptor<ReqT, RespT> method, CallOptions options) {
    this.owner = owner;
    this.method = method;
    this.options = options;
  }

  @Override
  public void start(Listener<RespT> listener, Metadata headers) {
    requireNonNull(listener, "listener");
    requireNonNull(headers, "headers");
    Status early;
    synchronized (lock) {
      checkState(this.listener == null, "call already started");
      this.listener = listener;
      this.headers = headers;
      early = closedBeforeStart;
      state = early == null ? State.MOVABLE : State.CLOSED;
    }
    if (early != null) { // cancelled before start; never inside start(), though
      Calls.execute(Calls.executorOf(options), () -> deliverClose(early, new Metadata()));
      return;
    }
    GrpcConnection<?> now = owner.openConnection();
    if (now != null) {
      startOn(now);
      return;
    }
    Attempt first;
    synchronized (lock) {
      first = newAttemptLocked();
    }
    await(first);
  }

  /**
   * The usual case: a connection is open as the call starts. The first attempt gets its real call
   * before anything is queued, so it passes straight through from the start.
   */
  private void startOn(GrpcConnection<?> connection) {
    Attempt first = new Attempt();
    synchronized (lock) {
      attempt = first;
    }
    if (first.attach(connection)) {
      first.call.start(first, copyOfHeaders());
      first.watch(connection); // after start(): a cancel to move it must not come before
    }
  }

  private Metadata copyOfHeaders() {
    Metadata copy = new Metadata();
    copy.merge(requireNonNull(headers)); // a transport or an interceptor may modify what it sends
    return copy;
  }

  /** Makes the next attempt live and replays into it what the caller did. Under the lock. */
  private Attempt newAttemptLocked() {
    Attempt next = new Attempt();
    attempt = next;
    // The attempt has no real call yet: these only queue, no channel or user code runs here.
    next.call.start(next, copyOfHeaders());
    for (Consumer<ClientCall<ReqT, RespT>> operation : kept) {
      operation.accept(next.call);
    }
    return next;
  }

  /** Gives {@code next} a connection now or later; while it waits, the call's limits apply. */
  private void await(Attempt next) {
    if (!owner.await(next)) {
      return; // connected (or failed) at once
    }
    synchronized (lock) {
      if (waitLimitsArmed || state == State.CLOSED) {
        return;
      }
      waitLimitsArmed = true;
    }
    Deadline deadline = effectiveDeadline();
    Future<?> timer =
        deadline == null ? null : deadline.runOnExpiration(this::deadlinePassed, owner.scheduler());
    context.addListener(onContextCancelled, directExecutor());
    boolean closed;
    synchronized (lock) {
      deadlineTimer = timer;
      closed = state == State.CLOSED;
    }
    if (closed) {
      releaseWaitLimits(); // closed while they were being armed
    }
  }

  private @Nullable Deadline effectiveDeadline() {
    Deadline callDeadline = options.getDeadline();
    Deadline contextDeadline = context.getDeadline();
    if (callDeadline == null) {
      return contextDeadline;
    }
    return contextDeadline == null ? callDeadline : callDeadline.minimum(contextDeadline);
  }

  private void deadlinePassed() {
    Attempt live;
    synchronized (lock) {
      expired = true;
      live = attempt;
    }
    if (live != null) {
      // An attempt with a real call has the same deadline and ends itself.
      live.call.failIfNotSet(
          Status.DEADLINE_EXCEEDED.withDescription(
              "deadline exceeded while waiting for a connection to " + owner.serverName()));
    }
  }

  private void releaseWaitLimits() {
    Future<?> timer;
    synchronized (lock) {
      timer = deadlineTimer;
      deadlineTimer = null;
    }
    if (timer != null) {
      timer.cancel(false);
    }
    context.removeListener(onContextCancelled);
  }

  // ---- the caller's operations ----

  /** Keeps {@code operation} while the call can move, then applies it to the live attempt. */
  private void run(Consumer<ClientCall<ReqT, RespT>> operation, long messageBytes) {
    Attempt target;
    GrpcConnection<?> unwatch = null;
    synchronized (lock) {
      target = attempt;
      if (state == State.MOVABLE) {
        kept.add(operation);
        keptBytes += messageBytes + OPERATION_BYTES;
        if (keptBytes > MAX_KEPT_BYTES) {
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
      if (!target.abandoned) {
        throw e;
      }
      // Cancelled a moment ago to move the call; the new attempt got this operation replayed.
    }
  }

  private long sizeOf(ReqT message) {
    if (method.getType().clientSendsOneMessage()) {
      return 0;
    }
    try (InputStream stream = method.streamRequest(message)) {
      return stream.available();
    } catch (IOException | RuntimeException e) {
      return 0; // the real call reports a marshaller that fails
    }
  }

  @Override
  public void sendMessage(ReqT message) {
    run(call -> call.sendMessage(message), sizeOf(message));
  }

  @Override
  public void request(int numMessages) {
    run(call -> call.request(numMessages), 0);
  }

  @Override
  public void halfClose() {
    run(ClientCall::halfClose, 0);
  }

  @Override
  public void setMessageCompression(boolean enabled) {
    run(call -> call.setMessageCompression(enabled), 0);
  }

  @Override
  public void cancel(@Nullable String message, @Nullable Throwable cause) {
    Attempt target;
    synchronized (lock) {
      cancelled = true;
      target = attempt;
      if (target == null && state == State.NEW) {
        Status status =
            Status.CANCELLED.withDescription(message != null ? message : "call cancelled");
        closedBeforeStart = cause != null ? status.withCause(cause) : status;
      }
    }
    if (target != null) {
      target.call.cancel(message, cause); // always wins; its onClose reaches the caller
    }
  }

  @Override
  public boolean isReady() {
    Attempt live = attempt;
    return live != null && live.call.isReady();
  }

  @Override
  public Attributes getAttributes() {
    Attempt live = attempt;
    return live != null ? live.call.getAttributes() : Attributes.EMPTY;
  }

  @Override
  public String toString() {
    Attempt live = attempt;
    return "MovingCall[" + method.getFullMethodName() + " to " + owner.serverName() + ", " + state
        + (live == null ? "" : ", sent=" + live.sent + ", on " + live.connection + ", " + live.call) + "]";
  }

  // ---- state changes ----

  /** The call can no longer move; returns the connection to stop watching, if any. Under lock. */
  private @Nullable GrpcConnection<?> commitLocked() {
    state = State.COMMITTED;
    kept.clear();
    keptBytes = 0;
    Attempt live = attempt;
    return live != null ? live.connection : null;
  }

  private void commit(Attempt answered) {
    if (state != State.MOVABLE) {
      return; // the usual case once committed: no lock per message
    }
    GrpcConnection<?> unwatch;
    synchronized (lock) {
      if (attempt != answered || state != State.MOVABLE) {
        return;
      }
      unwatch = commitLocked();
    }
    if (unwatch != null) {
      unwatch.removeCloseWatcher(answered);
    }
  }

  /** Whether {@code from}'s end, with {@code status}, should move the call. Under the lock. */
  private boolean shouldMoveLocked(Attempt from, @Nullable Status status) {
    GrpcConnection<?> connection = from.connection;
    return state == State.MOVABLE
        && (status == null || (!status.isOk() && status.getCode() != Status.Code.DEADLINE_EXCEEDED))
        && !from.sent
        && !cancelled
        && !expired
        && !context.isCancelled()
        && connection != null
        && connection.isClosed();
  }

  /** Moves the call off {@code from} if it may; see the class documentation. */
  private void moveIfUnsent(Attempt from) {
    Attempt next;
    synchronized (lock) {
      if (attempt != from || !shouldMoveLocked(from, null)) {
        return;
      }
      from.abandoned = true;
      next = newAttemptLocked();
    }
    from.call.cancel("connection dropped before the call was sent; moving it", null);
    await(next);
  }

  private void attemptClosed(Attempt from, Status status, Metadata trailers) {
    Attempt next = null;
    GrpcConnection<?> unwatch;
    synchronized (lock) {
      if (attempt != from || state == State.CLOSED) {
        return; // an abandoned attempt
      }
      unwatch = from.connection;
      if (shouldMoveLocked(from, status)) {
        from.abandoned = true;
        next = newAttemptLocked();
      } else {
        state = State.CLOSED;
        kept.clear();
      }
    }
    if (unwatch != null) {
      unwatch.removeCloseWatcher(from);
    }
    if (next != null) {
      await(next); // it never left this client and its connection went away
      return;
    }
    owner.forget(from);
    releaseWaitLimits();
    deliverClose(status, trailers);
  }

  // ---- to the caller ----

  /** The callbacks of the caller's listener, so that the usual one needs no lambda. */
  private enum Callback {
    HEADERS,
    MESSAGE,
    READY
  }

  /**
   * Hands a callback of {@code from} to the caller, unless {@code from} was abandoned or the call
   * closed. Callbacks reach the caller one at a time: inline when no other thread is delivering
   * one (the usual case, which allocates nothing), else queued behind it.
   */
  private void deliver(Attempt from, Callback callback, @Nullable Object argument) {
    if (toCaller.tryEnter()) {
      try {
        deliverNow(from, callback, argument);
      } finally {
        toCaller.exit();
      }
    } else {
      toCaller.execute(() -> deliverNow(from, callback, argument));
    }
  }

  @SuppressWarnings("unchecked") // the argument of MESSAGE is a response
  private void deliverNow(Attempt from, Callback callback, @Nullable Object argument) {
    if (closeDelivered || from.abandoned) {
      return;
    }
    Listener<RespT> caller = requireNonNull(listener);
    try {
      switch (callback) {
        case HEADERS -> caller.onHeaders((Metadata) requireNonNull(argument));
        case MESSAGE -> caller.onMessage((RespT) argument);
        case READY -> caller.onReady();
      }
    } catch (Throwable t) {
      // As gRPC does: a listener that throws cancels its call.
      cancel("the call's listener threw from " + callback, t);
    }
  }

  private void deliverClose(Status status, Metadata trailers) {
    toCaller.execute(
        () -> {
          if (!closeDelivered) {
            closeDelivered = true;
            requireNonNull(listener).onClose(status, trailers);
          }
        });
  }

  /** One attempt: a delayed call that waits for a connection, then runs on its channel. */
  final class Attempt extends Listener<RespT> implements PersistentChannel.Waiter, Runnable {
    final DelayedCall<ReqT, RespT> call = new DelayedCall<>(Calls.executorOf(options));
    volatile @Nullable GrpcConnection<?> connection;
    volatile boolean sent;
    /** Set under the lock when the call moved on: what reaches this attempt is stale. */
    volatile boolean abandoned;

    @Override
    public void connectTo(GrpcConnection<?> connection) {
      if (attach(connection)) {
        watch(connection);
      }
    }

    /** Gives this attempt its real call on {@code connection}; false if it ended meanwhile. */
    boolean attach(GrpcConnection<?> connection) {
      synchronized (lock) {
        if (attempt != this || state == State.CLOSED) {
          return false;
        }
        this.connection = connection;
      }
      CallOptions traced = options.withStreamTracerFactory(new Tracer());
      Context previous = context.attach(); // the real call honours the caller's context
      try {
        return call.setCall(connection.channel().newCall(method, traced));
      } finally {
        context.detach(previous);
      }
    }

    /** Moves the call if {@code connection} closes while it could still move. */
    void watch(GrpcConnection<?> connection) {
      connection.addCloseWatcher(this); // runs at once if the connection closed meanwhile
      if (state != State.MOVABLE || attempt != this) {
        connection.removeCloseWatcher(this); // committed or ended meanwhile
      }
    }

    @Override
    public void fail(Status status) {
      call.failIfNotSet(status);
    }

    /** The connection closed: move the call if it was never sent. */
    @Override
    public void run() {
      moveIfUnsent(this);
    }

    @Override
    public void onHeaders(Metadata headers) {
      commit(this);
      deliver(this, Callback.HEADERS, headers);
    }

    @Override
    public void onMessage(RespT message) {
      commit(this);
      deliver(this, Callback.MESSAGE, message);
    }

    @Override
    public void onReady() {
      deliver(this, Callback.READY, null);
    }

    @Override
    public void onClose(Status status, Metadata trailers) {
      attemptClosed(this, status, trailers);
    }

    /** Tells whether the attempt's stream sent its headers. */
    private final class Tracer extends ClientStreamTracer.Factory {
      @Override
      public ClientStreamTracer newClientStreamTracer(
          ClientStreamTracer.StreamInfo info, Metadata headers) {
        if (info.isTransparentRetry()) {
          // gRPC retries a stream transparently only when the server never processed it.
          sent = false;
          GrpcConnection<?> current = connection;
          if (current != null && current.isClosed()) {
            // The drop came first and found the call sent; now it is not. Not from inside
            // gRPC's stream creation, though.
            Calls.execute(Calls.sharedPool(), Attempt.this);
          }
        }
        return new ClientStreamTracer() {
          @Override
          public void outboundHeaders() {
            sent = true;
          }
        };
      }
    }
  }
}
