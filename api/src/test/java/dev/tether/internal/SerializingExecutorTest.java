package dev.tether.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

class SerializingExecutorTest {
  private final AtomicReference<Throwable> failed = new AtomicReference<>();
  private final SerializingExecutor executor = new SerializingExecutor(failed::set);

  /** What a caller does: inline when it gets the turn, else queued (as ToCaller delivers). */
  private void deliver(Runnable work) {
    if (executor.tryEnter()) {
      try {
        work.run();
      } finally {
        executor.exit();
      }
    } else {
      executor.execute(work);
    }
  }

  @Test
  void workDeliveredInline_neverOvertakesWorkTheSameThreadQueuedBefore() throws Exception {
    int count = 1_000_000;
    List<Integer> seen = new ArrayList<>(count); // only ever touched with the turn
    AtomicBoolean done = new AtomicBoolean();
    // Another thread keeps taking the turn, so that the deliveries below are often queued, and
    // the turn often given up between a queued one and the next.
    Thread contender =
        new Thread(
            () -> {
              while (!done.get()) {
                executor.execute(() -> {});
              }
            },
            "contender");
    contender.start();
    try {
      for (int i = 0; i < count; i++) {
        int n = i;
        deliver(() -> seen.add(n));
      }
    } finally {
      done.set(true);
      contender.join(10_000);
    }
    executor.execute(() -> {}); // a last turn, in case the contender left work queued
    assertEquals(null, failed.get());
    assertEquals(count, seen.size());
    for (int i = 0; i < count; i++) {
      int at = i;
      assertTrue(seen.get(i) == i, () -> "out of order at " + at + ": " + seen.subList(Math.max(0, at - 3), at + 2));
    }
  }

  @Test
  void aTaskSubmittedFromARunningTask_runsAfterIt_onTheSameThread() {
    List<String> order = new ArrayList<>();
    executor.execute(
        () -> {
          executor.execute(() -> order.add("inner on " + Thread.currentThread().getName()));
          order.add("outer");
        });
    assertEquals(List.of("outer", "inner on " + Thread.currentThread().getName()), order);
  }

  @Test
  void aTaskThatThrows_isHandedToTheErrorHandler_andTheNextRuns() {
    List<String> order = new ArrayList<>();
    IllegalStateException thrown = new IllegalStateException("task broke");
    executor.execute(
        () -> {
          executor.execute(
              () -> {
                throw thrown;
              });
          executor.execute(() -> order.add("next"));
        });
    assertEquals(thrown, failed.get());
    assertEquals(List.of("next"), order);
  }
}
