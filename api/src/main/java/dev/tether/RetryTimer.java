package dev.tether;

import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * The retry timer of one attempt: its task runs as a step of the serializing context, unless
 * {@link #cancel()} (also a step) came first, so a cancel always wins and a stale timer never
 * acts. Confined to the context, but for the scheduler's thread, which only submits the step.
 */
final class RetryTimer {
  private final ScheduledFuture<?> scheduled;
  private Runnable step;
  private boolean cancelled;
  private volatile boolean fired;

  private RetryTimer(
      ScheduledExecutorService scheduler, SerializingContext context, long nanos, Runnable step) {
    this.step = step;
    this.scheduled =
        java.util.Objects.requireNonNull(
            scheduler.schedule(
            () ->
                context.execute(
                    () -> {
                      if (!cancelled) {
                        fired = true;
                        this.step.run();
                      }
                    }),
            nanos,
            TimeUnit.NANOSECONDS),
            "the scheduler returned no future");
  }

  /**
   * Starts a timer that runs {@code step} in {@code context} after {@code nanos}.
   *
   * @throws RejectedExecutionException if the scheduler refuses it
   * @throws RuntimeException if the scheduler fails otherwise, or returns null
   */
  static RetryTimer start(
      ScheduledExecutorService scheduler, SerializingContext context, long nanos, Runnable step) {
    return new RetryTimer(scheduler, context, nanos, step);
  }

  /**
   * From now on the timer runs {@code newStep} when it fires: for the timer of an attempt whose
   * connection the loop takes over from a standby or a handover. In the context.
   */
  void retarget(Runnable newStep) {
    this.step = newStep;
  }

  /** Whether the timer fired (and was not cancelled first). */
  boolean fired() {
    return fired;
  }

  /** Cancels the timer: its step will not run, even if the scheduler already submitted it. */
  void cancel() {
    cancelled = true;
    scheduled.cancel(false);
  }

  /** The time left until the timer fires, on the scheduler's clock; never negative. Any thread. */
  long remainingNanos() {
    return fired ? 0 : Math.max(0, scheduled.getDelay(TimeUnit.NANOSECONDS));
  }
}
