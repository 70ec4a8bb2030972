package dev.tether.benchmarks;

import com.google.common.util.concurrent.Futures;
import com.google.common.util.concurrent.ListenableFuture;
import dev.tether.PersistentConnection;
import dev.tether.ReconnectBudget;
import dev.tether.grpc.ChannelFactory;
import dev.tether.grpc.Echo;
import dev.tether.grpc.GrpcConnection;
import dev.tether.grpc.GrpcConnector;
import io.grpc.Server;
import io.grpc.inprocess.InProcessServerBuilder;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;

/**
 * A mass drop: n in-process persistent connections to one server, all dropped at once (the
 * server is shut down and started again at once, as when a load balancer restarts). Counts the
 * reconnect attempts per second that follow, without a budget and with one shared by all of them.
 */
final class BudgetBench {
  private static final Duration RETRY_DELAY = Duration.ofMillis(100);

  private BudgetBench() {}

  static void run(boolean quick) throws Exception {
    int n = quick ? 2_000 : 10_000;
    measure(n, ReconnectBudget.unlimited());
    measure(n, ReconnectBudget.perSecond(n / 10.0, n / 100));
  }

  private static void measure(int n, ReconnectBudget budget) throws Exception {
    String name = "budget-" + System.nanoTime();
    Server server = start(name);
    ConcurrentLinkedQueue<Long> lookups = new ConcurrentLinkedQueue<>();
    GrpcConnector<String> connector = GrpcConnector.builder(ChannelFactory.inProcess()).build();
    List<PersistentConnection<String, GrpcConnection<String>>> connections = new ArrayList<>(n);
    List<ListenableFuture<GrpcConnection<String>>> connected = new ArrayList<>(n);
    for (int i = 0; i < n; i++) {
      PersistentConnection<String, GrpcConnection<String>> connection =
          connector
              .persistentConnection("budget-" + i)
              .addressLookup(
                  () -> {
                    lookups.add(System.nanoTime());
                    return Futures.immediateFuture(name);
                  })
              .retryDelay(RETRY_DELAY)
              .reconnectBudget(budget)
              .logger(org.slf4j.helpers.NOPLogger.NOP_LOGGER)
              .build();
      connections.add(connection);
      connected.add(connection.connected());
    }
    Futures.allAsList(connected).get(300, TimeUnit.SECONDS);
    TimeUnit.MILLISECONDS.sleep(RETRY_DELAY.toMillis() * 2); // older than the delay: at once
    lookups.clear();

    long dropped = System.nanoTime();
    server.shutdownNow();
    server = start(name);
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
    while (!allConnected(connections) && System.nanoTime() < deadline) {
      TimeUnit.MILLISECONDS.sleep(5);
    }
    long allBack = System.nanoTime() - dropped;

    // Attempts per second after the drop: the busiest 1 s window, and the busiest 100 ms one.
    System.out.printf(
        Locale.ROOT,
        "budget %-38s n=%6d: %6d attempts after the drop; at most %6d in any second, %5d in any"
            + " 100 ms; all reconnected in %6d ms%n",
        budget,
        n,
        lookups.size(),
        busiest(lookups, TimeUnit.SECONDS.toNanos(1)),
        busiest(lookups, TimeUnit.MILLISECONDS.toNanos(100)),
        TimeUnit.NANOSECONDS.toMillis(allBack));
    List<ListenableFuture<Void>> closed = new ArrayList<>(n);
    connections.forEach(c -> closed.add(c.close()));
    Futures.allAsList(closed).get(300, TimeUnit.SECONDS);
    server.shutdownNow();
  }

  /** The most attempts that started within any {@code windowNanos}, sliding. */
  private static int busiest(ConcurrentLinkedQueue<Long> starts, long windowNanos) {
    long[] sorted = starts.stream().mapToLong(Long::longValue).sorted().toArray();
    int most = 0;
    int from = 0;
    for (int to = 0; to < sorted.length; to++) {
      while (sorted[to] - sorted[from] >= windowNanos) {
        from++;
      }
      most = Math.max(most, to - from + 1);
    }
    return most;
  }

  private static boolean allConnected(
      List<PersistentConnection<String, GrpcConnection<String>>> connections) {
    for (PersistentConnection<String, GrpcConnection<String>> connection : connections) {
      GrpcConnection<String> current = connection.currentConnection();
      if (current == null || !current.isReady()) {
        return false;
      }
    }
    return true;
  }

  private static Server start(String name) throws java.io.IOException {
    return InProcessServerBuilder.forName(name)
        .directExecutor()
        .addService(Echo.service(name))
        .build()
        .start();
  }
}
