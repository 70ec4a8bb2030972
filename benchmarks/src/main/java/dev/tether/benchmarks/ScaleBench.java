package dev.tether.benchmarks;

import com.google.common.net.HostAndPort;
import com.google.common.util.concurrent.Futures;
import com.google.common.util.concurrent.ListenableFuture;
import dev.tether.PersistentConnection;
import dev.tether.grpc.ChannelFactory;
import dev.tether.grpc.Echo;
import dev.tether.grpc.GrpcConnection;
import dev.tether.grpc.GrpcConnector;
import io.grpc.Server;
import io.grpc.inprocess.InProcessServerBuilder;
import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;

/**
 * Scale: many persistent connections to one server. Time until all are connected, heap per
 * connection, live threads, and time to close them all.
 */
final class ScaleBench {
  private ScaleBench() {}

  static void run(boolean quick) throws Exception {
    Server inProcess =
        InProcessServerBuilder.forName("scale").directExecutor().addService(Echo.service("scale")).build().start();
    Replica netty = new Replica("scale");
    try {
      for (int n : quick ? List.of(1_000) : List.of(1_000, 10_000)) {
        measure("in-process", n, GrpcConnector.create(ChannelFactory.inProcess()), "scale");
      }
      measure("netty", quick ? 200 : 1_000, GrpcConnector.create(ChannelFactory.plaintext()), netty.address());
    } finally {
      inProcess.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
      netty.kill();
    }
  }

  private static long usedHeapAfterGc() throws InterruptedException {
    for (int i = 0; i < 3; i++) {
      System.gc();
      TimeUnit.MILLISECONDS.sleep(100);
    }
    Runtime runtime = Runtime.getRuntime();
    return runtime.totalMemory() - runtime.freeMemory();
  }

  private static int liveThreads() {
    return ManagementFactory.getThreadMXBean().getThreadCount();
  }

  private static <A> void measure(String transport, int n, GrpcConnector<A> connector, A address)
      throws Exception {
    int threadsBefore = liveThreads();
    long heapBefore = usedHeapAfterGc();
    List<PersistentConnection<A, GrpcConnection<A>>> connections = new ArrayList<>(n);
    long start = System.nanoTime();
    List<ListenableFuture<GrpcConnection<A>>> connected = new ArrayList<>(n);
    for (int i = 0; i < n; i++) {
      PersistentConnection<A, GrpcConnection<A>> connection =
          connector
              .persistentConnection("scale-" + i)
              .addressLookup(() -> Futures.immediateFuture(address))
              .logger(org.slf4j.helpers.NOPLogger.NOP_LOGGER)
              .build();
      connections.add(connection);
      connected.add(connection.connected());
    }
    Futures.allAsList(connected).get(300, TimeUnit.SECONDS);
    long connectMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
    int threadsConnected = liveThreads();
    long heapPer = (usedHeapAfterGc() - heapBefore) / n;

    long closing = System.nanoTime();
    List<ListenableFuture<Void>> closed = new ArrayList<>(n);
    for (PersistentConnection<A, GrpcConnection<A>> connection : connections) {
      closed.add(connection.close());
    }
    Futures.allAsList(closed).get(300, TimeUnit.SECONDS);
    long closeMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - closing);
    System.out.printf(
        Locale.ROOT,
        "scale %-10s n=%6d: all connected in %6d ms, heap %6.1f KiB per connection, live threads"
            + " %d before / %d connected, all closed in %5d ms%n",
        transport,
        n,
        connectMillis,
        heapPer / 1024.0,
        threadsBefore,
        threadsConnected,
        closeMillis);
  }
}
