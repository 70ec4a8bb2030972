package dev.tether;

import static com.google.common.util.concurrent.Futures.immediateFailedFuture;
import static com.google.common.util.concurrent.Futures.immediateFuture;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.common.util.concurrent.ListenableFuture;
import com.google.common.util.concurrent.SettableFuture;
import com.google.common.util.concurrent.AbstractFuture;
import dev.tether.testing.VirtualTimeScheduler;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;
import java.util.function.IntConsumer;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.RepeatedTest;

/**
 * Many threads use one persistent connection at once while its connections drop at random and its
 * connector answers from other threads; then it is closed. The events must stay well-formed, no
 * two deliveries may overlap, every connection made must end closed, and close must finish.
 */
class StressTest {
  /** A future the connector completes. */
  private static class Settable<V> extends AbstractFuture<V> {
    @Override
    public boolean set(@org.jspecify.annotations.Nullable V value) {
      return super.set(value);
    }

    @Override
    public boolean setException(Throwable error) {
      return super.setException(error);
    }
  }

  /** One that ignores cancel(): its connection arrives even after the attempt was cancelled. */
  private static final class Stubborn<V> extends Settable<V> {
    @Override
    public boolean cancel(boolean mayInterruptIfRunning) {
      return false;
    }
  }

  /** Runs {@code action} for each step, passing {@code barrier} before each. */
  private static Callable<Void> lockstep(CyclicBarrier barrier, int steps, IntConsumer action) {
    return () -> {
      for (int step = 0; step < steps; step++) {
        barrier.await(30, TimeUnit.SECONDS);
        action.accept(step);
      }
      return null;
    };
  }

  /** A logger that turns every ERROR line (a step that threw, say) into a problem, and drops the rest. */
  private static org.slf4j.Logger errorsTo(Queue<String> problems) {
    return new org.slf4j.helpers.AbstractLogger() {
      private static final long serialVersionUID = 1L;

      @Override
      protected @org.jspecify.annotations.Nullable String getFullyQualifiedCallerName() {
        return null;
      }

      @Override
      protected void handleNormalizedLoggingCall(
          org.slf4j.event.Level level,
          org.slf4j.@org.jspecify.annotations.Nullable Marker marker,
          String message,
          Object @org.jspecify.annotations.Nullable [] arguments,
          @org.jspecify.annotations.Nullable Throwable throwable) {
        if (level == org.slf4j.event.Level.ERROR) {
          problems.add(
              "ERROR " + org.slf4j.helpers.MessageFormatter.basicArrayFormat(message, arguments)
                  + (throwable == null ? "" : ": " + com.google.common.base.Throwables.getStackTraceAsString(throwable)));
        }
      }

      @Override
      public boolean isTraceEnabled() {
        return false;
      }

      @Override
      public boolean isTraceEnabled(org.slf4j.Marker marker) {
        return false;
      }

      @Override
      public boolean isDebugEnabled() {
        return false;
      }

      @Override
      public boolean isDebugEnabled(org.slf4j.Marker marker) {
        return false;
      }

      @Override
      public boolean isInfoEnabled() {
        return false;
      }

      @Override
      public boolean isInfoEnabled(org.slf4j.Marker marker) {
        return false;
      }

      @Override
      public boolean isWarnEnabled() {
        return false;
      }

      @Override
      public boolean isWarnEnabled(org.slf4j.Marker marker) {
        return false;
      }

      @Override
      public boolean isErrorEnabled() {
        return true;
      }

      @Override
      public boolean isErrorEnabled(org.slf4j.Marker marker) {
        return true;
      }
    };
  }

  @RepeatedTest(50)
  void manyThreads_randomDrops_eventsStayWellFormed_andCloseFinishes() throws Exception {
    Queue<String> problems = new ConcurrentLinkedQueue<>();
    Queue<FakeConnection> made = new ConcurrentLinkedQueue<>();
    AtomicInteger inside = new AtomicInteger();
    VirtualTimeScheduler time = VirtualTimeScheduler.create();
    ExecutorService connectors = Executors.newFixedThreadPool(2);
    ExecutorService workers = Executors.newFixedThreadPool(4);
    AtomicInteger serial = new AtomicInteger();
    // Tasks handed to the connectors' threads and not yet finished (an answer runs the loop's
    // steps that follow it on its thread): the step waits for them, so that the loop keeps pace
    // with the parties even when the connectors' threads get the CPU late.
    AtomicInteger inPool = new AtomicInteger();
    Executor answering =
        task -> {
          inPool.incrementAndGet();
          connectors.execute(
              () -> {
                try {
                  task.run();
                } finally {
                  inPool.decrementAndGet();
                }
              });
        };
    Queue<Runnable> held = new ConcurrentLinkedQueue<>();
    EventGrammar<String, FakeConnection> main = new EventGrammar<>("main", true, problems, inside);
    // What the loop was doing when close() came: says where it waited if too little happened.
    java.util.concurrent.atomic.AtomicReference<String> beforeClose =
        new java.util.concurrent.atomic.AtomicReference<>("");

    PersistentConnection<String, FakeConnection> pc =
        PersistentConnection.<String, FakeConnection>builder("stress")
            .addressLookup(
                () -> {
                  int dice = ThreadLocalRandom.current().nextInt(10);
                  if (dice == 0) {
                    return immediateFailedFuture(new IOException("catalog down"));
                  }
                  return immediateFuture(dice < 5 ? "a" : "b");
                })
            .connector(
                address -> {
                  // Answer from another thread; release the connection if the attempt was cancelled.
                  // Half the connects ignore cancel(), as a careless connector would; some
                  // answer only at the next step, so that close() races them.
                  Settable<FakeConnection> result =
                      ThreadLocalRandom.current().nextBoolean() ? new Settable<>() : new Stubborn<>();
                  boolean slow = ThreadLocalRandom.current().nextInt(4) == 0;
                  Runnable answer =
                      () -> {
                        if (ThreadLocalRandom.current().nextInt(4) == 0) {
                          result.setException(new IOException("refused"));
                          return;
                        }
                        FakeConnection c = FakeConnection.named("c" + serial.incrementAndGet());
                        made.add(c);
                        if (!result.set(c)) {
                          c.close();
                        }
                      };
                  if (slow) {
                    held.add(answer);
                  } else {
                    answering.execute(answer);
                  }
                  return result;
                })
            .retryDelay(Duration.ofSeconds(1))
            // One connection in eight fails its initializer, from this thread or another.
            .initializer(
                connection -> {
                  int dice = ThreadLocalRandom.current().nextInt(16);
                  if (dice == 0) {
                    return immediateFailedFuture(new IOException("not ready"));
                  }
                  if (dice == 1) {
                    SettableFuture<Void> later = SettableFuture.create();
                    answering.execute(() -> later.setException(new IOException("not ready")));
                    return later;
                  }
                  return immediateFuture(null);
                })
            .onEvent(main)
            .logger(errorsTo(problems)) // an internal step that throws is a problem, not a stall
            .scheduler(time)
            .build();
    StatesAgreeWithEvents states = new StatesAgreeWithEvents(problems);
    pc.subscribeState(states);
    pc.subscribe(states);

    // Four parties work in lockstep: at each step all of them pass a barrier and then act at
    // once, so that time, drops, waiters, subscribers and close race each other (and the
    // connector's threads) step after step, and none can starve the others.
    int steps = 400;
    CyclicBarrier barrier = new CyclicBarrier(4);
    List<Future<?>> tasks = new ArrayList<>();
    Function<IntConsumer, Future<?>> party = action -> workers.submit(lockstep(barrier, steps, action));
    tasks.add(
        party.apply(
            step -> {
              for (Runnable answer; (answer = held.poll()) != null; ) {
                answering.execute(answer);
              }
              time.advance(Duration.ofMillis(ThreadLocalRandom.current().nextInt(1500)));
              while (inPool.get() > 0) {
                Thread.onSpinWait(); // let the answers given so far, and the steps they run, finish
              }
            }));
    tasks.add(
        party.apply(
            step -> {
              FakeConnection c = pc.currentConnection();
              if (c != null && ThreadLocalRandom.current().nextInt(3) == 0) {
                c.drop();
              }
              if (ThreadLocalRandom.current().nextInt(4) == 0) {
                pc.retryNow(); // races the timer, the attempts and close
              }
            }));
    tasks.add(
        party.apply(
            step -> {
              for (int i = 0; i < 20; i++) {
                ListenableFuture<FakeConnection> a = pc.connected();
                ListenableFuture<FakeConnection> b = pc.connectedOrFailedToConnect();
                if (ThreadLocalRandom.current().nextBoolean()) {
                  a.cancel(false);
                  b.cancel(false);
                }
                pc.currentConnection();
              }
              if (step == steps * 3 / 4) {
                beforeClose.set(
                    pc.state() + "; " + inPool.get() + " in the connectors' threads; " + time.pendingTaskCount() + " tasks pending, next in "
                        + time.nextTaskDelay() + "; " + held.size() + " answers held");
                pc.close();
              }
            }));
    tasks.add(
        party.apply(
            step -> {
              EventGrammar<String, FakeConnection> checker =
                new EventGrammar<>("late" + step, false, problems, inside);
              Subscription subscription = pc.subscribe(checker);
              pc.currentConnection();
              subscription.close();
            }));

    for (Future<?> task : tasks) {
      task.get(30, TimeUnit.SECONDS);
    }
    for (Runnable answer; (answer = held.poll()) != null; ) {
      answering.execute(answer);
    }
    pc.closeFinished().get(30, TimeUnit.SECONDS);
    connectors.shutdown();
    assertTrue(connectors.awaitTermination(30, TimeUnit.SECONDS));
    workers.shutdown();
    assertTrue(workers.awaitTermination(30, TimeUnit.SECONDS));

    assertEquals(List.of(), new ArrayList<>(problems));
    assertTrue(states.closedSeen, "the state listener saw CLOSED");
    assertEquals(List.of(), new ArrayList<>(problems), "after close");
    assertTrue(main.connections() >= 3, "only " + main.connections() + " connections: too little happened; " + pc + " made " + made.size() + " lookups/serial " + serial.get() + " time " + time.now() + " pending " + time.pendingTaskCount() + "; before close: " + beforeClose.get());
    assertNull(pc.currentConnection());
    for (FakeConnection c : made) {
      assertTrue(c.isClosed(), c + " was left open");
    }

    // Nothing happens after close finished.
    int events = main.count();
    time.advance(Duration.ofMinutes(10));
    for (FakeConnection c : made) {
      c.drop();
    }
    assertEquals(events, main.count(), "no event after closeFinished()");
  }

  /**
   * Checks that the states a listener sees form a valid sequence and agree with the events: each
   * event is preceded by a state that shows it, and nothing comes after CLOSED.
   */
  private static final class StatesAgreeWithEvents
      implements StateListener<String, FakeConnection>, EventListener<String, FakeConnection> {
    private final Queue<String> problems;
    private @Nullable ConnectionState<String, FakeConnection> last;
    volatile boolean closedSeen;

    StatesAgreeWithEvents(Queue<String> problems) {
      this.problems = problems;
    }

    @Override
    public synchronized void onState(ConnectionState<String, FakeConnection> state) {
      ConnectionState.Status before = last == null ? null : last.status();
      if (before == ConnectionState.Status.CLOSED) {
        problems.add("a state after CLOSED: " + state);
      } else if (before == ConnectionState.Status.CLOSING
          && state.status() != ConnectionState.Status.CLOSING
          && state.status() != ConnectionState.Status.CLOSED) {
        problems.add("CLOSING, then " + state);
      }
      if ((state.status() == ConnectionState.Status.CONNECTED) != (state.connection() != null)
          && state.status() != ConnectionState.Status.CLOSING) {
        problems.add("status and connection disagree: " + state);
      }
      closedSeen |= state.status() == ConnectionState.Status.CLOSED;
      last = state;
    }

    @Override
    public synchronized void onEvent(Event<String, FakeConnection> event) {
      ConnectionState<String, FakeConnection> state = last;
      if (state == null) {
        return; // subscribed after build: the first event may come first
      }
      if (state.status() == ConnectionState.Status.CLOSED) {
        problems.add("an event after CLOSED: " + event);
      } else if (event instanceof Event.Connected<String, FakeConnection> connected
          && (state.status() != ConnectionState.Status.CONNECTED
              || state.connection() != connected.connection())) {
        problems.add(event + " after " + state);
      } else if (event instanceof Event.Disconnected && state.connection() != null) {
        problems.add(event + " after " + state);
      } else if (event instanceof Event.FailedToConnect<String, FakeConnection> failed
          && state.lastFailure() != failed.error()) {
        problems.add(event + " after " + state);
      }
    }
  }
}
