package dev.tether.grpc;

import static com.google.common.base.Preconditions.checkState;
import static com.google.common.util.concurrent.MoreExecutors.directExecutor;
import static java.util.Objects.requireNonNull;

import com.google.common.util.concurrent.Futures;
import com.google.common.util.concurrent.ListenableFuture;
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
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CancellationException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;
import java.util.concurrent.Future;
import java.util.function.Consumer;
import org.jspecify.annotations.Nullable;

/**
 * A wait-for-ready call through a {@link PersistentChannel}.
 *
 * <p>It waits for a ready connection ({@code connected()}), bounded by the call's deadline, the
 * deadline and cancellation of the {@link Context} it was made in, its own {@code cancel()}, and
 * the persistent connection's close. It then starts an <em>attempt</em>: a real call on that
 * connection's channel, to which it replays, in order, what the caller did meanwhile.
 *
 * <p>Until the server answers, the call keeps what the caller did (up to {@value #MAX_LOG}
 * operations once delivered), so that it can move: if the connection drops while the attempt's
 * current stream has not sent its headers (a stream tracer tells; gRPC's own transparent retries
 * start a stream that has not), the attempt is cancelled and a new one starts on the next
 * connection. Such a call never reached a server, so moving it cannot run it twice. This closes
 * the window in which a call made just as a connection drops would sit in the abandoned channel
 * until its deadline. A call whose stream was sent stays on its channel, as in gRPC.
 */
final class WaitingCall<ReqT, RespT> extends ClientCall<ReqT, RespT> {
  /** The most operations kept for a move once they have been delivered. */
  private static final int MAX_LOG = 128;

  private final PersistentChannel owner;
  private final MethodDescriptor<ReqT, RespT> method;
  private final CallOptions options;
  private final Executor executor;
  private final Context context = Context.current();
  private final Context.CancellationListener onContextCancelled =
      cancelled -> fail(Contexts.statusFromCancelled(cancelled));

  private final Object lock = new Object();
  private @Nullable Listener<RespT> listener; // guarded by lock
  private @Nullable Metadata headers; // guarded by lock
  /** What the caller did, in order, kept until the server answers (and the attempt caught up). */
  private final List<Consumer<ClientCall<ReqT, RespT>>> log = new ArrayList<>(); // guarded by lock

  private boolean committed; // guarded by lock: the server answered; the call can no longer move
  private @Nullable Attempt attempt; // guarded by lock: the live attempt
  private boolean passThrough; // guarded by lock: the live attempt has replayed the log
  private boolean userCancelled; // guarded by lock
  private boolean finished; // guarded by lock: the caller's listener got, or will get, onClose
  private boolean expired; // guarded by lock: the deadline passed while an attempt was live
  private @Nullable Future<?> deadlineTimer; // guarded by lock
  private @Nullable Future<?> awaiting; // guarded by lock

  WaitingCall(PersistentChannel owner, MethodDescriptor<ReqT, RespT> method, CallOptions options) {
    this.owner = owner;
    this.method = method;
    this.options = options;
    this.executor = PersistentChannel.executorOf(options);
  }

  @Override
  public void start(Listener<RespT> listener, Metadata headers) {
    boolean cancelledEarly;
    synchronized (lock) {
      checkState(this.listener == null, "call already started");
      this.listener = listener;
      this.headers = headers;
      cancelledEarly = finished;
    }
    if (cancelledEarly) { // cancel() came before start()
      deliver(listener, Status.CANCELLED.withDescription("call cancelled before start"));
      return;
    }
    Deadline deadline = effectiveDeadline();
    if (deadline != null && deadline.isExpired()) {
      fail(deadlineExceeded());
      return;
    }
    if (!owner.register(this)) {
      fail(owner.closedStatus());
      return;
    }
    if (deadline != null) {
      Future<?> timer = deadline.runOnExpiration(this::deadlinePassed, owner.scheduler());
      synchronized (lock) {
        deadlineTimer = timer;
      }
    }
    context.addListener(onContextCancelled, directExecutor());
    awaitConnection();
  }

  private @Nullable Deadline effectiveDeadline() {
    Deadline callDeadline = options.getDeadline();
    Deadline contextDeadline = context.getDeadline();
    if (callDeadline == null) {
      return contextDeadline;
    }
    return contextDeadline == null ? callDeadline : callDeadline.minimum(contextDeadline);
  }

  /**
   * Ends a waiting call at its deadline. A live attempt has the same deadline and ends itself;
   * should it be moved after this, the move is not made and the call ends here instead.
   */
  private void deadlinePassed() {
    synchronized (lock) {
      expired = true;
    }
    fail(deadlineExceeded());
  }

  private Status deadlineExceeded() {
    return Status.DEADLINE_EXCEEDED.withDescription(
        "deadline exceeded while waiting for a connection to " + owner.serverName());
  }

  // ---- waiting ----

  private void awaitConnection() {
    ListenableFuture<? extends GrpcConnection<?>> next = owner.connection().connected();
    synchronized (lock) {
      if (finished) {
        next.cancel(false);
        return;
      }
      awaiting = next;
    }
    next.addListener(() -> onConnection(next), directExecutor());
  }

  private void onConnection(ListenableFuture<? extends GrpcConnection<?>> next) {
    GrpcConnection<?> connection;
    try {
      connection = requireNonNull(Futures.getDone(next));
    } catch (ExecutionException | CancellationException e) {
      return; // cancelled because this call ended
    }
    if (!connection.isReady()) {
      // It is dropping but not yet replaced: wait until the persistent connection notices.
      connection.closeFinished().addListener(this::awaitConnection, directExecutor());
      return;
    }
    startAttempt(connection);
  }

  // ---- attempts ----

  /** One real call on one connection's channel. */
  private final class Attempt extends Listener<RespT> {
    final GrpcConnection<?> connection;
    final Listener<RespT> caller;
    volatile boolean sent;
    /** Cancelled by this call to move it: operations that still reach it are in the log. */
    volatile boolean moving;
    @Nullable ClientCall<ReqT, RespT> call; // set once, under lock, before the call starts

    Attempt(GrpcConnection<?> connection, Listener<RespT> caller) {
      this.connection = connection;
      this.caller = caller;
    }

    ClientStreamTracer.Factory tracer() {
      return new ClientStreamTracer.Factory() {
        @Override
        public ClientStreamTracer newClientStreamTracer(
            ClientStreamTracer.StreamInfo info, Metadata headers) {
          if (info.isTransparentRetry()) {
            // gRPC retries a stream transparently only when the server never processed it.
            sent = false;
            if (connection.isClosed()) {
              // The drop came first and found the call sent; now it is not: move it. Not from
              // inside gRPC's stream creation, though.
              owner.scheduler().execute(Attempt.this::dropped);
            }
          }
          return new ClientStreamTracer() {
            @Override
            public void outboundHeaders() {
              sent = true;
            }
          };
        }
      };
    }

    @Override
    public void onHeaders(Metadata headers) {
      commit();
      caller.onHeaders(headers);
    }

    @Override
    public void onMessage(RespT message) {
      commit();
      caller.onMessage(message);
    }

    @Override
    public void onReady() {
      caller.onReady();
    }

    @Override
    public void onClose(Status status, Metadata trailers) {
      boolean retry;
      synchronized (lock) {
        if (attempt != this) {
          return;
        }
        retry =
            !status.isOk()
                && !sent
                && !committed
                && !userCancelled
                && !expired
                && status.getCode() != Status.Code.DEADLINE_EXCEEDED
                && connection.isClosed();
        if (!retry && moving && expired) {
          status = deadlineExceeded(); // cancelled for a move that the deadline then forbade
        }
        attempt = null;
        passThrough = false;
        if (!retry) {
          finished = true;
          log.clear();
          stopWaiting();
        }
      }
      if (retry) {
        // It never left this client and its connection went away: move it to the next one.
        awaitConnection();
      } else {
        caller.onClose(status, trailers);
      }
    }

    void dropped() {
      ClientCall<ReqT, RespT> call;
      synchronized (lock) {
        if (attempt != this || sent || committed) {
          return;
        }
        moving = true;
        passThrough = false; // from now on the caller's operations only go to the log
        call = this.call;
      }
      if (call != null) {
        call.cancel("connection dropped before the call was sent; moving it", null);
      }
    }
  }

  /** The server answered: the call can no longer move, and the log is no longer needed. */
  private void commit() {
    synchronized (lock) {
      committed = true;
      if (passThrough) {
        log.clear();
      }
    }
  }

  private void startAttempt(GrpcConnection<?> connection) {
    Metadata headersCopy = new Metadata();
    Attempt next;
    ClientCall<ReqT, RespT> call;
    synchronized (lock) {
      Listener<RespT> caller = listener;
      if (finished || caller == null || headers == null) {
        return;
      }
      next = new Attempt(connection, caller);
      headersCopy.merge(headers); // a transport may modify the headers it sends
      // Made in the caller's context, so that the real call honours its deadline and cancellation.
      Context previous = context.attach();
      try {
        call = connection.channel().newCall(method, options.withStreamTracerFactory(next.tracer()));
      } finally {
        context.detach(previous);
      }
      next.call = call;
      attempt = next;
    }
    context.run(() -> call.start(next, headersCopy));
    // After start(): a connection already gone cancels a started call, whose onClose moves it.
    connection.closeFinished().addListener(next::dropped, directExecutor());
    replay(next, call);
  }

  /** Replays the log into the attempt, until it stays caught up; from then on calls pass through. */
  private void replay(Attempt replaying, ClientCall<ReqT, RespT> call) {
    int replayed = 0;
    while (true) {
      List<Consumer<ClientCall<ReqT, RespT>>> ops;
      synchronized (lock) {
        if (attempt != replaying) {
          return;
        }
        if (replayed >= log.size()) {
          passThrough = true;
          if (committed) {
            log.clear(); // delivered, and never to be replayed now
          }
          return;
        }
        ops = new ArrayList<>(log.subList(replayed, log.size()));
        replayed = log.size();
      }
      for (Consumer<ClientCall<ReqT, RespT>> op : ops) {
        op.accept(call);
      }
    }
  }

  // ---- ending ----

  /** Ends the call, unless an attempt is live (it ends the call itself). Idempotent. */
  void fail(Status status) {
    Listener<RespT> listener;
    synchronized (lock) {
      if (finished || attempt != null) {
        return;
      }
      finished = true;
      log.clear();
      listener = this.listener;
      stopWaiting();
    }
    if (listener != null) {
      deliver(listener, status);
    }
  }

  private void deliver(Listener<RespT> listener, Status status) {
    executor.execute(() -> listener.onClose(status, new Metadata()));
  }

  /** Stops the timers and listeners that a waiting call holds. Runs under the lock. */
  private void stopWaiting() {
    Future<?> timer = deadlineTimer;
    if (timer != null) {
      timer.cancel(false);
    }
    Future<?> next = awaiting;
    if (next != null && !next.isDone()) {
      next.cancel(false);
    }
    context.removeListener(onContextCancelled);
    owner.unregister(this);
  }

  // ---- the caller's operations ----

  private void run(Consumer<ClientCall<ReqT, RespT>> op) {
    ClientCall<ReqT, RespT> call = null;
    Attempt target = null;
    synchronized (lock) {
      if (finished) {
        return;
      }
      // Logged while a replay may still need it: until the server answers (for a move), and
      // while the live attempt is still catching up with the log. A long client stream stops
      // being movable rather than be held in memory.
      if (!committed || !passThrough) {
        log.add(op);
        if (passThrough && log.size() > MAX_LOG) {
          committed = true;
          log.clear();
        }
      }
      Attempt live = attempt;
      if (live != null && passThrough) {
        call = live.call;
        target = live;
      }
    }
    if (call != null) {
      try {
        op.accept(call);
      } catch (IllegalStateException e) {
        if (target == null || !target.moving) {
          throw e;
        }
        // The attempt was cancelled a moment ago to move the call; the log replays this op.
      }
    }
  }

  @Override
  public void request(int numMessages) {
    run(call -> call.request(numMessages));
  }

  @Override
  public void cancel(@Nullable String message, @Nullable Throwable cause) {
    ClientCall<ReqT, RespT> call = null;
    synchronized (lock) {
      userCancelled = true;
      Attempt live = attempt;
      if (live != null) {
        call = live.call;
      }
    }
    if (call != null) {
      call.cancel(message, cause); // its onClose reaches the caller
      return;
    }
    Status status = Status.CANCELLED.withDescription(message != null ? message : "call cancelled");
    fail(cause != null ? status.withCause(cause) : status);
  }

  @Override
  public void halfClose() {
    run(ClientCall::halfClose);
  }

  @Override
  public void sendMessage(ReqT message) {
    run(call -> call.sendMessage(message));
  }

  @Override
  public void setMessageCompression(boolean enabled) {
    run(call -> call.setMessageCompression(enabled));
  }

  @Override
  public boolean isReady() {
    ClientCall<ReqT, RespT> call = null;
    synchronized (lock) {
      Attempt live = attempt;
      if (live != null && passThrough) {
        call = live.call;
      }
    }
    return call != null && call.isReady();
  }

  @Override
  public Attributes getAttributes() {
    ClientCall<ReqT, RespT> call = null;
    synchronized (lock) {
      Attempt live = attempt;
      if (live != null) {
        call = live.call;
      }
    }
    return call != null ? call.getAttributes() : Attributes.EMPTY;
  }

  @Override
  public String toString() {
    return "WaitingCall[" + method.getFullMethodName() + " to " + owner.serverName() + "]";
  }
}
