package dev.tether.grpc;

import static com.google.common.util.concurrent.MoreExecutors.directExecutor;

import io.grpc.CallOptions;
import io.grpc.Context;
import io.grpc.Deadline;
import java.util.concurrent.Future;
import java.util.concurrent.ScheduledExecutorService;
import org.jspecify.annotations.Nullable;

/**
 * What bounds a {@link MovingCall} while it waits for a connection: its deadline (the call's or
 * its context's, whichever comes first), timed on the persistent connection's scheduler, and the
 * cancellation of its context. Armed the first time the call waits, released once when it ends;
 * an attempt with a real call is bounded by that call itself.
 */
final class WaitLimits {
  private final Context context;
  private final @Nullable Deadline deadline;
  private final ScheduledExecutorService scheduler;
  private final Runnable deadlinePassed;
  private final Context.CancellationListener contextCancelled;
  private boolean armed; // guarded by this
  private boolean released; // guarded by this
  private @Nullable Future<?> timer; // guarded by this

  WaitLimits(
      Context context,
      CallOptions options,
      ScheduledExecutorService scheduler,
      Runnable deadlinePassed,
      Context.CancellationListener contextCancelled) {
    this.context = context;
    Deadline callDeadline = options.getDeadline();
    Deadline contextDeadline = context.getDeadline();
    this.deadline =
        callDeadline == null
            ? contextDeadline
            : contextDeadline == null ? callDeadline : callDeadline.minimum(contextDeadline);
    this.scheduler = scheduler;
    this.deadlinePassed = deadlinePassed;
    this.contextCancelled = contextCancelled;
  }

  /**
   * Arms the limits, once; does nothing after {@link #release}. A deadline already passed, or a
   * context already cancelled, is acted on at once.
   *
   * @throws java.util.concurrent.RejectedExecutionException if the scheduler was shut down
   * @throws RuntimeException if the scheduler fails otherwise
   */
  void arm() {
    synchronized (this) {
      if (armed || released) {
        return;
      }
      armed = true;
    }
    context.addListener(contextCancelled, directExecutor()); // first: the timer may be refused
    Future<?> scheduled =
        deadline == null ? null : deadline.runOnExpiration(deadlinePassed, scheduler);
    boolean late;
    synchronized (this) {
      timer = scheduled;
      late = released;
    }
    if (late) {
      disarm(scheduled); // released while they were being armed
    }
  }

  /** Releases the limits for good: the timer is cancelled and the context listener removed. */
  void release() {
    Future<?> scheduled;
    synchronized (this) {
      released = true;
      if (!armed) {
        return;
      }
      scheduled = timer;
      timer = null;
    }
    disarm(scheduled);
  }

  private void disarm(@Nullable Future<?> scheduled) {
    if (scheduled != null) {
      scheduled.cancel(false);
    }
    context.removeListener(contextCancelled);
  }
}
