package dev.tether.testing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class VirtualTimeSchedulerTest {
  private final VirtualTimeScheduler time = VirtualTimeScheduler.create();
  private final List<String> ran = new ArrayList<>();

  @Test
  void nothingRuns_untilTimeIsAdvanced() {
    time.execute(() -> ran.add("now"));
    time.schedule(() -> ran.add("later"), 5, TimeUnit.SECONDS);
    assertEquals(List.of(), ran);
    assertEquals(1, time.runDueTasks());
    assertEquals(List.of("now"), ran);
    assertEquals(Duration.ofSeconds(5), time.nextTaskDelay());
    time.advance(Duration.ofSeconds(5));
    assertEquals(List.of("now", "later"), ran);
    assertNull(time.nextTaskDelay());
  }

  @Test
  void tasksRunInDueOrder_thenInScheduleOrder_withTheClockAtTheirDueTime() {
    time.schedule(() -> ran.add("b@" + time.now().toSeconds()), 2, TimeUnit.SECONDS);
    time.schedule(() -> ran.add("a@" + time.now().toSeconds()), 1, TimeUnit.SECONDS);
    time.schedule(() -> ran.add("c@" + time.now().toSeconds()), 2, TimeUnit.SECONDS);
    time.advance(Duration.ofSeconds(10));
    assertEquals(List.of("a@1", "b@2", "c@2"), ran);
    assertEquals(Duration.ofSeconds(10), time.now());
  }

  @Test
  void tasksScheduledByTasks_runInTheSameAdvance_whenDue() {
    time.schedule(
        () -> time.schedule(() -> ran.add("inner@" + time.now().toSeconds()), 3, TimeUnit.SECONDS),
        1,
        TimeUnit.SECONDS);
    time.advance(Duration.ofSeconds(3));
    assertEquals(List.of(), ran);
    time.advance(Duration.ofSeconds(1));
    assertEquals(List.of("inner@4"), ran);
  }

  @Test
  void cancelledTasks_doNotRun() {
    ScheduledFuture<?> task = time.schedule(() -> ran.add("x"), 1, TimeUnit.SECONDS);
    assertEquals(1, time.pendingTaskCount());
    assertTrue(task.cancel(false));
    assertEquals(0, time.pendingTaskCount());
    time.advance(Duration.ofSeconds(2));
    assertEquals(List.of(), ran);
  }

  @Test
  void periodicTasks_repeat_atFixedRateOrWithFixedDelay() {
    ScheduledFuture<?> rate = time.scheduleAtFixedRate(() -> ran.add("r" + time.now().toSeconds()), 1, 2, TimeUnit.SECONDS);
    time.scheduleWithFixedDelay(() -> ran.add("d" + time.now().toSeconds()), 0, 3, TimeUnit.SECONDS);
    time.advance(Duration.ofSeconds(6));
    // At 3 s both are due; the fixed-delay task was rescheduled first (at 0 s), so it runs first.
    assertEquals(List.of("d0", "r1", "d3", "r3", "r5", "d6"), ran);
    rate.cancel(false);
    ran.clear();
    time.advance(Duration.ofSeconds(3));
    assertEquals(List.of("d9"), ran);
  }

  @Test
  void throwingTask_failsItsFuture_andOthersStillRun() {
    ScheduledFuture<?> failing =
        time.schedule(
            () -> {
              throw new IllegalStateException("boom");
            },
            1,
            TimeUnit.SECONDS);
    time.schedule(() -> ran.add("after"), 1, TimeUnit.SECONDS);
    time.advance(Duration.ofSeconds(1));
    ExecutionException e = assertThrows(ExecutionException.class, failing::get);
    assertEquals("boom", java.util.Objects.requireNonNull(e.getCause()).getMessage());
    assertEquals(List.of("after"), ran);
  }

  @Test
  void callable_resultIsInItsFuture() throws Exception {
    ScheduledFuture<String> future = time.schedule(() -> "done", 1, TimeUnit.MINUTES);
    assertFalse(future.isDone());
    assertEquals(60_000, future.getDelay(TimeUnit.MILLISECONDS));
    time.advance(Duration.ofMinutes(1));
    assertEquals("done", future.get());
  }

  @Test
  void hugeDelays_saturate_insteadOfOverflowing() {
    time.schedule(() -> ran.add("never"), Long.MAX_VALUE, TimeUnit.NANOSECONDS);
    time.advance(Duration.ofDays(365));
    time.schedule(() -> ran.add("also never"), Long.MAX_VALUE, TimeUnit.DAYS);
    time.advance(Duration.ofDays(365));
    assertEquals(List.of(), ran);
    assertEquals(2, time.pendingTaskCount());
  }

  @Test
  void shutdown_rejectsNewTasks_keepsPendingOnes_shutdownNowDropsThem() {
    time.schedule(() -> ran.add("pending"), 1, TimeUnit.SECONDS);
    time.shutdown();
    assertTrue(time.isShutdown());
    assertFalse(time.isTerminated());
    assertThrows(RejectedExecutionException.class, () -> time.execute(() -> ran.add("x")));
    time.advance(Duration.ofSeconds(1));
    assertEquals(List.of("pending"), ran);
    assertTrue(time.isTerminated());

    VirtualTimeScheduler other = VirtualTimeScheduler.create();
    other.schedule(() -> ran.add("dropped"), 1, TimeUnit.SECONDS);
    assertEquals(1, other.shutdownNow().size());
    other.advance(Duration.ofSeconds(1));
    assertEquals(List.of("pending"), ran);
  }

  @Test
  void shutdown_cancelsPeriodicTasks_queuedOrRunning_andTheSchedulerTerminates() {
    ScheduledFuture<?> queued = time.scheduleAtFixedRate(() -> ran.add("queued"), 1, 1, TimeUnit.SECONDS);
    ScheduledFuture<?>[] running = new ScheduledFuture<?>[1];
    running[0] =
        time.scheduleWithFixedDelay(
            () -> {
              ran.add("running");
              time.shutdown(); // from inside a periodic task: it is not queued again
            },
            2,
            1,
            TimeUnit.SECONDS);
    time.schedule(() -> ran.add("once"), 3, TimeUnit.SECONDS);
    time.advance(Duration.ofSeconds(1));

    // "running" (due at 2 s since it was scheduled) comes before "queued" (due at 2 s since its
    // run at 1 s) and shuts the scheduler down: "queued" is cancelled before it runs again.
    time.advance(Duration.ofSeconds(1));

    assertTrue(queued.isCancelled());
    assertTrue(running[0].isCancelled());
    time.advance(Duration.ofSeconds(10));
    assertEquals(List.of("queued", "running", "once"), ran, "the one-shot task still runs");
    assertTrue(time.isTerminated());
  }

  @Test
  void runNextTasks_jumpsToTheNextDueTime() {
    time.schedule(() -> ran.add("a"), 7, TimeUnit.SECONDS);
    time.schedule(() -> ran.add("b"), 9, TimeUnit.SECONDS);
    assertEquals(1, time.runNextTasks());
    assertEquals(Duration.ofSeconds(7), time.now());
    assertEquals(List.of("a"), ran);
    assertEquals(1, time.runNextTasks());
    assertEquals(0, time.runNextTasks());
    assertEquals(Duration.ofSeconds(9), time.now());
  }

  @Test
  void ticker_readsTheVirtualClock() {
    time.advance(Duration.ofMillis(1500));
    assertEquals(1_500_000_000L, time.ticker().read());
  }
}
