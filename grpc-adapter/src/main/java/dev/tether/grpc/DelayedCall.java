package dev.tether.grpc;

import static com.google.common.base.Preconditions.checkState;
import static java.util.Objects.requireNonNull;

import io.grpc.Attributes;
import io.grpc.ClientCall;
import io.grpc.Context;
import io.grpc.Metadata;
import io.grpc.Status;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Executor;
import org.jspecify.annotations.Nullable;

/**
 * A call whose real call is set later, once, in the shape of grpc-java's {@code
 * DelayedClientCall}.
 *
 * <p>Until {@link #setCall} the operations of the caller are queued. {@code setCall} runs them on
 * the real call in order, on the thread that calls it and with no lock held, until the queue stays
 * empty; from then on operations pass straight through. Callbacks that the real call makes while
 * the queue drains are held and then delivered, in order, on the call executor, so that a listener
 * never sees {@code onReady} before {@link #isReady()} can say true.
 *
 * <p>{@link #cancel} is queued behind pending work, so it reaches the real call after {@code
 * start}, and it always wins: before {@code setCall} it ends the call at once (the listener gets
 * {@code onClose} on the call executor, never inside {@code cancel} or {@code start}) and a later
 * {@code setCall} is refused. {@link #failIfNotSet} ends a call that has no real call yet with a
 * status of the caller's choosing.
 */
final class DelayedCall<ReqT, RespT> extends ClientCall<ReqT, RespT> {
  private final Executor callExecutor;
  private final Context context;

  private final Object lock = new Object();
  /** Set once: by {@link #setCall}, or to a no-op call by {@link #failIfNotSet}. Under lock. */
  private volatile @Nullable ClientCall<ReqT, RespT> realCall;
  /** True once the real call is set and every queued operation has run on it. */
  private volatile boolean passThrough;
  /** The real call's {@code start} threw: it takes nothing more. */
  private volatile boolean broken;
  /** The status a start that threw ends the call with ({@link #isAfterAFailedStart}). */
  private volatile @Nullable Status startFailure;
  /** Operations queued until pass-through; made on the first one. */
  private @Nullable List<Runnable> pending; // guarded by lock
  private @Nullable Listener<RespT> listener; // guarded by lock
  private @Nullable HeldListener<RespT> held; // guarded by lock
  private @Nullable Status error; // guarded by lock: failed before start
  /** The real call's {@code start} has returned: a cancel may reach it now. */
  private boolean realStarted; // guarded by lock
  /** A cancel that came after pass-through but before the real call started. */
  private @Nullable Runnable cancelAfterStart; // guarded by lock

  /**
   * Creates a delayed call whose own callbacks (a close before the real call, the callbacks held
   * while the queue drains) run on {@code callExecutor} in {@code context}, as the real call's do.
   */
  DelayedCall(Executor callExecutor, Context context) {
    this.callExecutor = callExecutor;
    this.context = context;
  }

  /**
   * Hands every pending and later operation to {@code call}. Returns false, doing nothing, if a
   * real call was set already or the call failed.
   */
  boolean setCall(ClientCall<ReqT, RespT> call) {
    synchronized (lock) {
      if (realCall != null) {
        return false;
      }
      realCall = requireNonNull(call, "call");
    }
    drainPending();
    return true;
  }

  @Override
  public void start(Listener<RespT> listener, Metadata headers) {
    Status failed;
    Listener<RespT> target;
    boolean now;
    synchronized (lock) {
      checkState(this.listener == null, "call already started");
      this.listener = requireNonNull(listener, "listener");
      failed = error;
      now = passThrough;
      target = now ? listener : (held = new HeldListener<>(listener));
    }
    if (failed != null) {
      deliverClose(listener, failed);
    } else if (now) {
      startReal(target, headers);
      Runnable cancel;
      synchronized (lock) {
        realStarted = true;
        cancel = cancelAfterStart;
      }
      if (cancel != null) {
        cancel.run();
      }
    } else {
      delayOrRun(() -> startReal(target, headers));
    }
  }

  /** Starts the real call; if that throws, the call ends with what it threw, never silently. */
  private void startReal(Listener<RespT> target, Metadata headers) {
    ClientCall<ReqT, RespT> call = requireNonNull(realCall);
    try {
      call.start(target, headers);
    } catch (Throwable e) { // even an Error: it would strand the call, and on a deferred start the
      // thread that runs it is another call's or the connection's
      broken = true;
      Status failed = Status.fromThrowable(e).withDescription("the call failed to start: " + e);
      startFailure = failed; // before the cancel: the real call's end that follows is ignored
      // As gRPC's stubs do: whatever the failed start left running is cancelled.
      cancelQuietly(call, "the call failed to start", e);
      deliverClose(target, failed);
    }
  }

  /**
   * Whether {@code status}, which the listener got in {@code onClose}, is to be ignored: the start
   * threw after the real call had the listener, and this is the real call's own end (the cancel
   * of what the failed start left running), not the end this call gives for the failed start.
   * One end, and always the same one, for the start that failed.
   */
  boolean isAfterAFailedStart(Status status) {
    Status failed = startFailure;
    return failed != null && status != failed;
  }

  private static void cancelQuietly(ClientCall<?, ?> call, String message, Throwable cause) {
    try {
      call.cancel(message, cause);
    } catch (Throwable e) {
      if (e != cause) {
        cause.addSuppressed(e); // a user's interceptor; the call ends all the same
      }
    }
  }

  @Override
  public void cancel(@Nullable String message, @Nullable Throwable cause) {
    Status status = Status.CANCELLED.withDescription(message != null ? message : "call cancelled");
    if (failIfNotSet(cause != null ? status.withCause(cause) : status)) {
      return;
    }
    Runnable cancel = () -> requireNonNull(realCall).cancel(message, cause);
    // One decision, under the lock: a real call cancelled before its start would refuse to start
    // and never close, so a cancel waits for a start that was not issued yet (no listener) or that
    // runs now on the direct path; it queues behind a queued start; else it goes through at once.
    synchronized (lock) {
      if (!realStarted && (passThrough || listener == null)) {
        cancelAfterStart = cancel;
        return;
      }
      if (!passThrough) {
        queueLocked(cancel);
        return;
      }
    }
    cancel.run(); // even after a failed start: what it left running must end
  }

  /**
   * Ends the call with {@code status} if no real call is set yet, and refuses any later {@link
   * #setCall}; returns whether it did. A call that has its real call already is left to it.
   */
  boolean failIfNotSet(Status status) {
    Listener<RespT> toClose;
    synchronized (lock) {
      if (realCall != null) {
        return false;
      }
      realCall = NoopCall.get();
      toClose = listener;
      if (toClose == null) {
        error = status; // start() delivers it
      }
    }
    if (toClose != null) {
      deliverClose(toClose, status);
    }
    drainPending();
    return true;
  }

  private void deliverClose(Listener<RespT> listener, Status status) {
    Calls.execute(callExecutor, context.wrap(() -> listener.onClose(status, new Metadata())));
  }

  private void delayOrRun(Runnable operation) {
    synchronized (lock) {
      if (!passThrough) {
        queueLocked(operation);
        return;
      }
    }
    if (!broken) {
      operation.run();
    }
  }

  private void queueLocked(Runnable operation) {
    List<Runnable> queue = pending;
    if (queue == null) {
      pending = queue = new ArrayList<>();
    }
    queue.add(operation);
  }

  /** Runs the queued operations until the queue stays empty, then passes through. Once. */
  private void drainPending() {
    @Nullable List<Runnable> batch = null;
    HeldListener<RespT> heldListener;
    Runnable cancel;
    while (true) {
      synchronized (lock) {
        checkState(!passThrough, "drained twice");
        List<Runnable> queue = pending;
        if (queue == null || queue.isEmpty()) {
          pending = null;
          passThrough = true;
          realStarted = listener != null; // a queued start has run
          cancel = realStarted ? cancelAfterStart : null; // one that waited for that start
          heldListener = held;
          break;
        }
        pending = batch;
        batch = queue;
      }
      for (Runnable operation : batch) {
        try {
          operation.run(); // never under the lock: it calls into the channel
        } catch (Throwable e) { // the rest of the queue must still run (a cancel may be in it)
          cancelQuietly(requireNonNull(realCall), "a queued operation failed", e);
        }
      }
      batch.clear();
    }
    if (cancel != null) {
      cancel.run();
    }
    if (heldListener != null) {
      Calls.execute(callExecutor, context.wrap(heldListener::release));
    }
  }

  @Override
  public void request(int numMessages) {
    if (passThrough && !broken) {
      requireNonNull(realCall).request(numMessages);
    } else {
      delayOrRun(() -> requireNonNull(realCall).request(numMessages));
    }
  }

  @Override
  public void halfClose() {
    delayOrRun(() -> requireNonNull(realCall).halfClose());
  }

  @Override
  public void sendMessage(ReqT message) {
    if (passThrough && !broken) {
      requireNonNull(realCall).sendMessage(message);
    } else {
      delayOrRun(() -> requireNonNull(realCall).sendMessage(message));
    }
  }

  @Override
  public void setMessageCompression(boolean enabled) {
    delayOrRun(() -> requireNonNull(realCall).setMessageCompression(enabled));
  }

  @Override
  public boolean isReady() {
    return passThrough && !broken && requireNonNull(realCall).isReady();
  }

  @Override
  public Attributes getAttributes() {
    ClientCall<ReqT, RespT> call = realCall;
    return call != null ? call.getAttributes() : Attributes.EMPTY;
  }

  @Override
  public String toString() {
    return "DelayedCall[" + realCall + "]";
  }
}
