package dev.tether.grpc;

import static com.google.common.base.Preconditions.checkState;
import static com.google.common.util.concurrent.MoreExecutors.directExecutor;
import static java.util.Objects.requireNonNull;

import com.google.common.util.concurrent.Futures;
import com.google.common.util.concurrent.ListenableFuture;
import io.grpc.Attributes;
import io.grpc.CallOptions;
import io.grpc.ClientCall;
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
 * A wait-for-ready call made while the persistent connection had no ready channel. It waits for
 * {@code connected()}, bounded by the call's deadline, the deadline and cancellation of the
 * {@link Context} it was made in, its own {@code cancel()}, and the persistent connection's close;
 * then it starts a real call on the new channel and replays, in order, what the caller did
 * meanwhile. After that every operation goes straight to the real call.
 */
final class WaitingCall<ReqT, RespT> extends ClientCall<ReqT, RespT> {
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
  private @Nullable ClientCall<ReqT, RespT> real; // guarded by lock
  private boolean passThrough; // guarded by lock
  private @Nullable Status failure; // guarded by lock
  private List<Consumer<ClientCall<ReqT, RespT>>> pending = new ArrayList<>(); // guarded by lock
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
    Status failedEarly;
    synchronized (lock) {
      checkState(this.listener == null, "call already started");
      this.listener = listener;
      this.headers = headers;
      failedEarly = failure;
    }
    if (failedEarly != null) { // cancelled before start
      deliver(listener, failedEarly);
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
      Future<?> timer = deadline.runOnExpiration(() -> fail(deadlineExceeded()), owner.scheduler());
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

  private Status deadlineExceeded() {
    return Status.DEADLINE_EXCEEDED.withDescription(
        "deadline exceeded while waiting for a connection to " + owner.serverName());
  }

  private void awaitConnection() {
    ListenableFuture<? extends GrpcConnection<?>> next = owner.connection().connected();
    synchronized (lock) {
      if (failure != null) {
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
    Listener<RespT> listener;
    Metadata headers;
    ClientCall<ReqT, RespT> call;
    synchronized (lock) {
      if (failure != null || this.listener == null || this.headers == null) {
        return;
      }
      listener = this.listener;
      headers = this.headers;
      // Made in the caller's context, so that the real call honours its deadline and cancellation.
      Context previous = context.attach();
      try {
        call = connection.channel().newCall(method, options);
      } finally {
        context.detach(previous);
      }
      real = call;
      stopWaiting();
    }
    context.run(() -> call.start(listener, headers));
    drain(call);
  }

  /** Replays what was queued, until the queue stays empty; from then on calls pass through. */
  private void drain(ClientCall<ReqT, RespT> call) {
    while (true) {
      List<Consumer<ClientCall<ReqT, RespT>>> ops;
      synchronized (lock) {
        if (pending.isEmpty()) {
          passThrough = true;
          return;
        }
        ops = pending;
        pending = new ArrayList<>();
      }
      for (Consumer<ClientCall<ReqT, RespT>> op : ops) {
        op.accept(call);
      }
    }
  }

  /** Ends the call without a real one, if it has none yet. Idempotent. */
  void fail(Status status) {
    Listener<RespT> listener;
    synchronized (lock) {
      if (failure != null || real != null) {
        return;
      }
      failure = status;
      pending.clear();
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

  private void run(Consumer<ClientCall<ReqT, RespT>> op) {
    ClientCall<ReqT, RespT> call;
    synchronized (lock) {
      if (failure != null) {
        return;
      }
      if (!passThrough) {
        pending.add(op);
        return;
      }
      call = real;
    }
    if (call != null) {
      op.accept(call);
    }
  }

  @Override
  public void request(int numMessages) {
    run(call -> call.request(numMessages));
  }

  @Override
  public void cancel(@Nullable String message, @Nullable Throwable cause) {
    boolean hasReal;
    synchronized (lock) {
      hasReal = real != null;
    }
    if (hasReal) {
      run(call -> call.cancel(message, cause));
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
    ClientCall<ReqT, RespT> call;
    synchronized (lock) {
      call = passThrough ? real : null;
    }
    return call != null && call.isReady();
  }

  @Override
  public Attributes getAttributes() {
    ClientCall<ReqT, RespT> call;
    synchronized (lock) {
      call = real;
    }
    return call != null ? call.getAttributes() : Attributes.EMPTY;
  }

  @Override
  public String toString() {
    return "WaitingCall[" + method.getFullMethodName() + " to " + owner.serverName() + "]";
  }
}
