package dev.tether.internal;

import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The scheduler that Tether's modules share when none is given: one daemon thread, made on first
 * use, that runs timers and the steps they trigger, and ends after two seconds with nothing to
 * do. Not part of the public API.
 */
public final class DefaultScheduler {
  private DefaultScheduler() {}

  /** Returns the shared scheduler. */
  public static ScheduledExecutorService get() {
    return Holder.INSTANCE;
  }

  private static final class Holder {
    static final ScheduledExecutorService INSTANCE = create();

    private static ScheduledExecutorService create() {
      AtomicInteger count = new AtomicInteger();
      ScheduledThreadPoolExecutor executor =
          new ScheduledThreadPoolExecutor(
              1,
              task -> {
                Thread thread = new Thread(task, "tether-scheduler-" + count.incrementAndGet());
                thread.setDaemon(true);
                return thread;
              });
      // Cancelled retry timers would otherwise stay queued until their time comes.
      executor.setRemoveOnCancelPolicy(true);
      // No thread is left behind once every persistent connection is closed: the thread ends
      // after two idle seconds with nothing queued, and starts again with the next timer.
      executor.setKeepAliveTime(2, java.util.concurrent.TimeUnit.SECONDS);
      executor.allowCoreThreadTimeOut(true);
      return java.util.concurrent.Executors.unconfigurableScheduledExecutorService(executor);
    }
  }
}
