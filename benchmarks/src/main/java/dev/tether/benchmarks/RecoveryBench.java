package dev.tether.benchmarks;

import com.google.common.net.HostAndPort;
import com.google.common.util.concurrent.Futures;
import com.google.common.util.concurrent.ListenableFuture;
import com.google.common.util.concurrent.ListeningExecutorService;
import com.google.common.util.concurrent.MoreExecutors;
import dev.tether.PersistentConnection;
import dev.tether.grpc.ChannelFactory;
import dev.tether.grpc.Echo;
import dev.tether.grpc.GrpcConnection;
import dev.tether.grpc.GrpcConnector;
import dev.tether.grpc.PersistentChannel;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.ClientCalls;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;

/**
 * Recovery after an outage: the only replica is down for a while, then back; how long from its
 * return until the first successful call. Tether with a 1 s retry delay (randomized, the default)
 * against a plain grpc-java channel with its default reconnect backoff, both waiting with a
 * wait-for-ready call through the same outage.
 */
final class RecoveryBench {
  private static final Duration RETRY_DELAY = Duration.ofSeconds(1);

  private RecoveryBench() {}

  static void run(boolean quick) throws Exception {
    List<Double> outages = quick ? List.of(0.5, 2.0) : List.of(0.5, 2.0, 10.0, 30.0);
    int trials = quick ? 1 : 3;
    Replica replica = new Replica("only");
    HostAndPort address = replica.address();
    PersistentConnection<HostAndPort, GrpcConnection<HostAndPort>> connection =
        GrpcConnector.persistentConnection("bench", ChannelFactory.plaintext())
            .addressLookup(() -> Futures.immediateFuture(address))
            .retryDelay(RETRY_DELAY)
            .logger(org.slf4j.helpers.NOPLogger.NOP_LOGGER)
            .build();
    Channel tether = PersistentChannel.of(connection);
    ManagedChannel plain =
        NettyChannelBuilder.forAddress("127.0.0.1", address.getPort()).usePlaintext().build();
    ListeningExecutorService callers =
        MoreExecutors.listeningDecorator(java.util.concurrent.Executors.newFixedThreadPool(2));
    try {
      for (double outage : outages) {
        Stats tetherStats = new Stats();
        Stats plainStats = new Stats();
        for (int trial = 0; trial < trials; trial++) {
          call(tether).get(10, TimeUnit.SECONDS); // both connected before the outage
          call(plain).get(10, TimeUnit.SECONDS);
          replica.kill();
          ListenableFuture<Long> tetherDone = callers.submit(() -> untilSuccess(tether));
          ListenableFuture<Long> plainDone = callers.submit(() -> untilSuccess(plain));
          TimeUnit.MILLISECONDS.sleep((long) (outage * 1000));
          replica.start();
          long back = System.nanoTime();
          tetherStats.add(tetherDone.get(200, TimeUnit.SECONDS) - back);
          plainStats.add(plainDone.get(200, TimeUnit.SECONDS) - back);
        }
        System.out.printf(
            Locale.ROOT,
            "recovery after %4.1f s outage: tether p50=%.0f ms max=%.0f ms | grpc-java p50=%.0f ms"
                + " max=%.0f ms | target: tether <= %.0f ms + one connect%n",
            outage,
            tetherStats.percentile(50),
            tetherStats.max(),
            plainStats.percentile(50),
            plainStats.max(),
            RETRY_DELAY.toMillis() * 1.3);
      }
    } finally {
      callers.shutdownNow();
      connection.close().get(10, TimeUnit.SECONDS);
      plain.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
      replica.kill();
    }
  }

  /**
   * Calls until one succeeds, and returns when it did ({@link System#nanoTime()}). Each call waits
   * for a connection; one that was already on the killed transport fails, and the next one waits.
   */
  private static long untilSuccess(Channel channel) throws Exception {
    while (true) {
      try {
        call(channel).get();
        return System.nanoTime();
      } catch (java.util.concurrent.ExecutionException e) {
        // try again
      }
    }
  }

  /** A wait-for-ready call that may wait out a whole outage. */
  private static ListenableFuture<String> call(Channel channel) {
    return ClientCalls.futureUnaryCall(
        channel.newCall(
            Echo.SAY, CallOptions.DEFAULT.withWaitForReady().withDeadlineAfter(300, TimeUnit.SECONDS)),
        "x");
  }
}
