package dev.tether.guice;

import static com.google.common.util.concurrent.Futures.immediateFuture;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tether.Event;
import dev.tether.PersistentConnection;
import dev.tether.testing.IdleConnection;
import dev.tether.testing.VirtualTimeScheduler;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * {@link ConnectionRegistry} never calls into a persistent connection while it holds its lock: a
 * connection whose close runs user code that needs the registry on another thread must not
 * deadlock.
 */
class ConnectionRegistryTest {
  private final ExecutorService other = Executors.newSingleThreadExecutor();
  private final ConnectionRegistry registry = new ConnectionRegistry();
  /** Steps run on the thread that advances it: close() delivers Disconnected on its caller. */
  private final VirtualTimeScheduler time = VirtualTimeScheduler.create();
  /** What went wrong inside listeners, which must not throw into the loop. */
  private final Queue<String> problems = new ConcurrentLinkedQueue<>();
  private final AtomicInteger reads = new AtomicInteger();

  @AfterEach
  void stop() {
    other.shutdownNow();
  }

  /**
   * A connected persistent connection whose Disconnected listener reads the registry on another
   * thread and waits for the answer, as code that the close triggers may do.
   */
  private PersistentConnection<String, IdleConnection> connectedWithReadingListener() {
    PersistentConnection<String, IdleConnection> connection =
        PersistentConnection.<String, IdleConnection>builder("orders")
            .addressLookup(() -> immediateFuture("orders-1"))
            .connector(address -> immediateFuture(new IdleConnection()))
            .onEvent(
                event -> {
                  if (event instanceof Event.Disconnected) {
                    readRegistryFromAnotherThread();
                  }
                })
            .scheduler(time)
            .build();
    time.runDueTasks(); // the first round, on this thread; no step runs after it returns
    assertTrue(connection.connected().isDone());
    return connection;
  }

  private void readRegistryFromAnotherThread() {
    reads.incrementAndGet();
    try {
      Map<String, PersistentConnection<?, ?>> seen =
          CompletableFuture.supplyAsync(registry::connections, other).get(5, TimeUnit.SECONDS);
      if (!seen.containsKey("orders")) {
        problems.add("the registry did not list orders: " + seen);
      }
    } catch (TimeoutException e) {
      problems.add("registry.connections() blocked while the connection closed: deadlock");
    } catch (Exception e) {
      problems.add("registry.connections() failed: " + e);
    }
  }

  @Test
  void closeAll_callsCloseOutsideTheLock() throws Exception {
    PersistentConnection<String, IdleConnection> connection = connectedWithReadingListener();
    registry.register("orders", connection, null);

    registry.closeAll().get(10, TimeUnit.SECONDS);

    assertTrue(connection.closeFinished().isDone());
    assertEquals(1, reads.get(), "the Disconnected listener ran");
    assertEquals(List.of(), List.copyOf(problems));
  }

  @Test
  void registerAfterCloseAll_closesOutsideTheLock() throws Exception {
    registry.closeAll().get(10, TimeUnit.SECONDS);
    PersistentConnection<String, IdleConnection> connection = connectedWithReadingListener();

    registry.register("orders", connection, null);

    connection.closeFinished().get(10, TimeUnit.SECONDS);
    assertTrue(connection.isClosed());
    assertEquals(1, reads.get(), "the Disconnected listener ran");
    assertEquals(List.of(), List.copyOf(problems));
  }

  @Test
  void twoConnectionsOfOneName_areBothClosed_byCloseAll() throws Exception {
    PersistentConnection<String, IdleConnection> first = connectedWithReadingListener();
    PersistentConnection<String, IdleConnection> second = connectedWithReadingListener();
    registry.register("orders", first, null); // say, from two child injectors of one parent
    registry.register("orders", second, null);
    assertEquals(Map.of("orders", second), registry.connections());

    registry.closeAll();

    assertTrue(first.isClosed(), "the first orders is closed too");
    assertTrue(second.isClosed());
  }
}
