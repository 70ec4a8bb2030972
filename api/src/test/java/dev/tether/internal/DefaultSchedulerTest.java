package dev.tether.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static java.util.Objects.requireNonNull;

import com.google.common.util.concurrent.SettableFuture;
import dev.tether.testsupport.ErrorLogs;
import dev.tether.testsupport.ExpectErrorLogs;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Failures of tasks on the shared scheduler are logged at ERROR through SLF4J, once each; tasks
 * that succeed, periodic tasks that keep running and cancelled tasks log nothing. Tests without
 * {@link ExpectErrorLogs} also fail on any ERROR line (ErrorLogsExtension).
 */
class DefaultSchedulerTest {
  private static final String LOGGER = "dev.tether.internal.DefaultScheduler";
  private final ScheduledExecutorService scheduler = DefaultScheduler.get();

  @BeforeEach
  void recording() {
    assertTrue(ErrorLogs.isRecording(), "the build must select the recording SLF4J provider");
  }

  /**
   * Waits until every task submitted before this call has run and been logged: the scheduler has
   * one thread and runs due tasks in submission order, each one's afterExecute before the next.
   */
  private void drain() throws Exception {
    scheduler.submit(() -> {}).get(10, TimeUnit.SECONDS);
  }

  private static List<ErrorLogs.Line> linesOfTheScheduler() {
    return ErrorLogs.take().stream().filter(line -> line.logger().equals(LOGGER)).toList();
  }

  @Test
  @ExpectErrorLogs("a failing task is the case under test")
  void aTaskThatThrows_isLoggedAtError_withItsException() throws Exception {
    IllegalStateException boom = new IllegalStateException("boom");
    scheduler.execute(
        () -> {
          throw boom;
        });
    drain();
    List<ErrorLogs.Line> lines = linesOfTheScheduler();
    assertEquals(1, lines.size(), lines.toString());
    assertSame(boom, lines.get(0).cause());
    assertTrue(lines.get(0).thread().startsWith("tether-scheduler-"), lines.toString());
  }

  @Test
  @ExpectErrorLogs("a failing timer is the case under test")
  void aScheduledTaskThatThrows_isLogged_andTheSchedulerGoesOn() throws Exception {
    scheduler.schedule(
        () -> {
          throw new IllegalArgumentException("timer failed");
        },
        1,
        TimeUnit.MILLISECONDS);
    SettableFuture<String> after = SettableFuture.create();
    scheduler.schedule(() -> after.set("still running"), 2, TimeUnit.MILLISECONDS);
    assertEquals("still running", after.get(10, TimeUnit.SECONDS));
    drain();
    List<ErrorLogs.Line> lines = linesOfTheScheduler();
    assertEquals(1, lines.size(), lines.toString());
    assertEquals("timer failed", requireNonNull(lines.get(0).cause()).getMessage());
  }

  @Test
  @ExpectErrorLogs("a failing periodic task is the case under test")
  void aPeriodicTaskThatThrows_isLoggedOnce() throws Exception {
    AtomicInteger runs = new AtomicInteger();
    Future<?> periodic =
        scheduler.scheduleAtFixedRate(
            () -> {
              if (runs.incrementAndGet() == 3) {
                throw new IllegalStateException("third run failed");
              }
            },
            0,
            1,
            TimeUnit.MILLISECONDS);
    ExecutionException failed =
        org.junit.jupiter.api.Assertions.assertThrows(
            ExecutionException.class, () -> periodic.get(10, TimeUnit.SECONDS));
    assertEquals("third run failed", requireNonNull(failed.getCause()).getMessage());
    drain();
    List<ErrorLogs.Line> lines = linesOfTheScheduler();
    assertEquals(1, lines.size(), lines.toString());
    assertEquals(3, runs.get());
  }

  @Test
  void tasksThatSucceed_andAPeriodicTaskThatKeepsRunning_logNothing() throws Exception {
    assertEquals("fine", scheduler.submit(() -> "fine").get(10, TimeUnit.SECONDS));
    CountDownLatch fiveRuns = new CountDownLatch(5);
    Future<?> periodic =
        scheduler.scheduleWithFixedDelay(fiveRuns::countDown, 0, 1, TimeUnit.MILLISECONDS);
    assertTrue(fiveRuns.await(10, TimeUnit.SECONDS));
    periodic.cancel(false);
    drain();
    assertEquals(List.of(), linesOfTheScheduler());
  }

  @Test
  void cancelledTasks_logNothing_alsoOneCancelledWhileItRuns() throws Exception {
    Future<?> never = scheduler.schedule(() -> {}, 1, TimeUnit.HOURS);
    assertTrue(never.cancel(false));

    SettableFuture<Future<?>> self = SettableFuture.create();
    CountDownLatch ran = new CountDownLatch(1);
    Future<?> cancelsItself =
        scheduler.schedule(
            () -> {
              try {
                assertTrue(requireNonNull(self.get(10, TimeUnit.SECONDS)).cancel(false));
              } catch (Exception e) {
                throw new AssertionError(e);
              }
              ran.countDown();
            },
            1,
            TimeUnit.MILLISECONDS);
    self.set(cancelsItself);
    assertTrue(ran.await(10, TimeUnit.SECONDS));
    drain();
    assertTrue(cancelsItself.isCancelled());
    assertFalse(never.isDone() && !never.isCancelled());
    assertEquals(List.of(), linesOfTheScheduler());
  }
}
