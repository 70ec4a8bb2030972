package dev.tether.internal;

import com.google.common.util.concurrent.ThreadFactoryBuilder;
import java.util.concurrent.CancellationException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The scheduler that Tether's modules share when none is given: one daemon thread, made on first
 * use, that runs timers and the steps they trigger, and ends after two seconds with nothing to
 * do. Not part of the public API.
 *
 * <p>A task that throws is logged at ERROR through this class's SLF4J logger ({@code
 * dev.tether.internal.DefaultScheduler}), with its exception as the cause. A {@link
 * ScheduledThreadPoolExecutor} keeps a task's exception in the task's future, and the timers that
 * Tether schedules here are never asked for their outcome, so without the log the failure would
 * vanish. Every failed task is logged, also one whose future its submitter inspects. A periodic
 * task is logged only when a run throws (which ends it), a cancelled task never.
 */
public final class DefaultScheduler {
  private static final Logger logger = LoggerFactory.getLogger(DefaultScheduler.class);

  private DefaultScheduler() {}

  /** Returns the shared scheduler. */
  public static ScheduledExecutorService get() {
    return Holder.INSTANCE;
  }

  private static final class Holder {
    static final ScheduledExecutorService INSTANCE = create();

    private static ScheduledExecutorService create() {
      ScheduledThreadPoolExecutor executor =
          new LoggingExecutor(
              new ThreadFactoryBuilder().setNameFormat("tether-scheduler-%d").setDaemon(true).build());
      // Cancelled retry timers would otherwise stay queued until their time comes.
      executor.setRemoveOnCancelPolicy(true);
      // No thread is left behind once every persistent connection is closed: the thread ends
      // after two idle seconds with nothing queued, and starts again with the next timer.
      executor.setKeepAliveTime(2, TimeUnit.SECONDS);
      executor.allowCoreThreadTimeOut(true);
      return Executors.unconfigurableScheduledExecutorService(executor);
    }
  }

  /** One thread; logs the failure of every task that throws. */
  private static final class LoggingExecutor extends ScheduledThreadPoolExecutor {
    LoggingExecutor(ThreadFactory threads) {
      super(1, threads);
    }

    @Override
    protected void afterExecute(Runnable task, @Nullable Throwable thrown) {
      super.afterExecute(task, thrown);
      Throwable failure = thrown != null ? thrown : failureOf(task);
      if (failure != null) {
        logFailure(failure);
      }
    }

    /**
     * The exception {@code task} completed with. Every task here is the executor's own future; a
     * periodic one that ran normally is not done (it runs again), so asking it never blocks.
     */
    private static @Nullable Throwable failureOf(Runnable task) {
      if (!(task instanceof Future<?> future) || !future.isDone() || future.isCancelled()) {
        return null;
      }
      try {
        future.get();
        return null;
      } catch (ExecutionException e) {
        Throwable cause = e.getCause();
        return cause != null ? cause : e;
      } catch (CancellationException e) {
        return null; // cancelled between the check and get()
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt(); // cannot happen: the future is done
        return null;
      }
    }

    /** The task's own description says nothing useful (a future); the cause's stack trace does. */
    private static void logFailure(Throwable failure) {
      try {
        logger.atError().setCause(failure).log("A task on Tether's shared scheduler failed");
      } catch (Throwable ignored) {
        // A broken logger must not kill the scheduler's thread.
      }
    }
  }
}
