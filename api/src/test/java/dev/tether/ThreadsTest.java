package dev.tether;

import static com.google.common.util.concurrent.Futures.immediateFuture;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.common.util.concurrent.SettableFuture;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** DESIGN 3.5: each step runs on the thread that triggers it, one step at a time. */
class ThreadsTest {
  private final Harness h = new Harness();

  @Test
  void withAVirtualTimeScheduler_everythingRunsOnTheThreadThatAdvancesTime() {
    h.start();
    assertEquals(3, h.events.threads().size());
    for (Thread thread : h.events.threads()) {
      assertSame(Thread.currentThread(), thread);
    }
  }

  @Test
  void lookupCompletedOnAnotherThread_continuesOnThatThread() throws Exception {
    SettableFuture<String> lookup = SettableFuture.create();
    h.lookup = () -> lookup;
    CompletableFuture<Thread> connectThread = new CompletableFuture<>();
    h.connector =
        address -> {
          connectThread.complete(Thread.currentThread());
          return immediateFuture(h.newConnection());
        };
    PersistentConnection<String, FakeConnection> pc = h.start();

    Thread completer = new Thread(() -> lookup.set("a"), "completer");
    completer.start();
    completer.join(TimeUnit.SECONDS.toMillis(10));

    assertSame(completer, connectThread.get(10, TimeUnit.SECONDS));
    List<Thread> threads = h.events.threads();
    assertSame(completer, threads.get(threads.size() - 1), "Connected was delivered by it too");
    assertSame(h.made.get(0), pc.currentConnection());
  }

  @Test
  void stepTriggeredWhileAnotherRuns_isQueued_andRunByTheThreadAlreadyRunning() throws Exception {
    CountDownLatch listenerEntered = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    PersistentConnection<String, FakeConnection> pc =
        h.builder()
            .onEvent(
                event -> {
                  if (event instanceof Event.Connected) {
                    listenerEntered.countDown();
                    await(release); // a slow listener, to hold the step open
                  }
                })
            .build();
    Thread runner = new Thread(h.time::runDueTasks, "runner");
    runner.start();
    assertTrue(listenerEntered.await(10, TimeUnit.SECONDS));

    // Another thread closes while the runner is inside the Connected step.
    pc.close();
    assertTrue(pc.isClosed(), "isClosed() is true at once");
    assertFalse(pc.closeFinished().isDone(), "the close step waits for the running step");
    assertFalse(h.made.get(0).isClosed());

    release.countDown();
    runner.join(TimeUnit.SECONDS.toMillis(10));
    assertTrue(pc.closeFinished().isDone());
    h.events.expect("AttemptingToConnect", "ObtainedAddress a", "Connected c1", "Disconnected");
    List<Thread> threads = h.events.threads();
    assertSame(runner, threads.get(3), "the runner ran the queued close step");
  }

  private static void await(CountDownLatch latch) {
    try {
      if (!latch.await(10, TimeUnit.SECONDS)) {
        throw new AssertionError("timed out");
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError(e);
    }
  }
}
