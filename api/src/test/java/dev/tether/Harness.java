package dev.tether;

import com.google.common.util.concurrent.Futures;
import dev.tether.testing.VirtualTimeScheduler;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * A persistent connection to "orders" on virtual time, with a lookup and a connector the test can
 * swap at any moment, a recording listener and a recording logger. By default the lookup answers
 * "a" at once, the connector yields a new {@link FakeConnection} c1, c2, ... at once, and the
 * retry delay is a constant 10 s without randomization.
 */
final class Harness {
  final VirtualTimeScheduler time = VirtualTimeScheduler.create();
  /** The scheduler the persistent connection gets: {@link #time}, unless a test wraps it. */
  java.util.concurrent.ScheduledExecutorService scheduler = time;
  final RecordingListener<String, FakeConnection> events = new RecordingListener<>();
  final RecordingLogger logger = new RecordingLogger();
  final List<FakeConnection> made = new ArrayList<>();
  final List<Integer> delaysAsked = new ArrayList<>();
  int lookups;
  int connects;

  volatile AddressLookup<String> lookup = () -> Futures.immediateFuture("a");
  volatile Connector<String, FakeConnection> connector =
      address -> Futures.immediateFuture(newConnection());
  RetryDelay retryDelay = RetryDelay.constant(Duration.ofSeconds(10));
  boolean randomize = false;

  synchronized FakeConnection newConnection() {
    FakeConnection connection = FakeConnection.named("c" + (made.size() + 1));
    made.add(connection);
    return connection;
  }

  PersistentConnection.Builder<String, FakeConnection> builder() {
    return PersistentConnection.<String, FakeConnection>builder("orders")
        .addressLookup(
            () -> {
              lookups++;
              return lookup.lookup();
            })
        .connector(
            address -> {
              connects++;
              return connector.connect(address);
            })
        .retryDelay(
            failures -> {
              delaysAsked.add(failures);
              return retryDelay.next(failures);
            })
        .randomizeRetryDelay(randomize)
        .onEvent(events)
        .logger(logger)
        .scheduler(scheduler);
  }

  /** Builds the persistent connection and runs the first round's due steps. */
  PersistentConnection<String, FakeConnection> start() {
    PersistentConnection<String, FakeConnection> connection = builder().build();
    time.runDueTasks();
    return connection;
  }

  void advance(Duration duration) {
    time.advance(duration);
  }

  static Duration seconds(double seconds) {
    return Duration.ofNanos((long) (seconds * 1e9));
  }

  /** The value of {@code future}, which must be done: virtual time never blocks. */
  static <V> V done(com.google.common.util.concurrent.ListenableFuture<V> future) {
    org.junit.jupiter.api.Assertions.assertTrue(future.isDone(), () -> "not done: " + future);
    return java.util.Objects.requireNonNull(Futures.getUnchecked(future));
  }

  /** A step of a persistent connection that another thread runs and stays in until released. */
  static final class HeldStep {
    private final java.util.concurrent.CountDownLatch release = new java.util.concurrent.CountDownLatch(1);
    private final Thread thread;

    private HeldStep(PersistentConnection<String, FakeConnection> connection) throws InterruptedException {
      java.util.concurrent.CountDownLatch inStep = new java.util.concurrent.CountDownLatch(1);
      // A subscriber's first state is delivered in a step, on the subscribing thread.
      thread =
          new Thread(
              () ->
                  connection.subscribeState(
                      state -> {
                        if (inStep.getCount() > 0) {
                          inStep.countDown();
                          try {
                            release.await();
                          } catch (InterruptedException e) {
                            Thread.currentThread().interrupt();
                          }
                        }
                      }),
              "held-step");
      thread.start();
      if (!inStep.await(10, java.util.concurrent.TimeUnit.SECONDS)) {
        throw new AssertionError("the step did not start");
      }
    }

    /** Lets the step end; waits until its thread has run every step queued behind it. */
    void release() throws InterruptedException {
      release.countDown();
      thread.join(10_000);
      if (thread.isAlive()) {
        throw new AssertionError("the held step's thread did not finish");
      }
    }
  }

  /**
   * Has another thread run a step of {@code connection} and stay in it: the steps that other
   * threads trigger meanwhile queue behind it, and that thread runs them when released.
   */
  static HeldStep holdAStep(PersistentConnection<String, FakeConnection> connection)
      throws InterruptedException {
    return new HeldStep(connection);
  }
}
