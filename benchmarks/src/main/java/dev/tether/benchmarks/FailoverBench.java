package dev.tether.benchmarks;

import com.google.common.net.HostAndPort;
import com.google.common.util.concurrent.Futures;
import dev.tether.Event;
import dev.tether.PersistentConnection;
import dev.tether.grpc.ChannelFactory;
import dev.tether.grpc.Echo;
import dev.tether.grpc.GrpcConnection;
import dev.tether.grpc.GrpcConnector;
import dev.tether.grpc.PersistentChannel;
import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Failover: two loopback replicas; the serving one is killed with shutdownNow(); how long until
 * the first successful unary call. A: Tether, with a lookup that alternates replicas. B: a plain
 * grpc-java channel given both addresses (pick_first). C: a plain channel given only the killed
 * address while that replica is restarted on the same port at once.
 */
final class FailoverBench {
  private static final Duration RETRY_DELAY = Duration.ofMillis(250);
  /** How long the kill itself takes (shutdownNow and awaitTermination): no client can beat it. */
  private static final Stats KILL = new Stats();
  private static final AtomicLong LAST_KILL = new AtomicLong();

  private FailoverBench() {}

  static void run(boolean quick) throws Exception {
    int trials = quick ? 10 : 50;
    StaticResolverProvider.install();
    Stats tether = tether(trials, false);
    Stats standby = tether(trials, true);
    Stats pickFirst = pickFirst(trials);
    Stats sameAddress = sameAddress(trials);
    print("A tether, alternating lookup", tether);
    print("D tether with standby", standby);
    print("B grpc-java pick_first, both addresses", pickFirst);
    print("C grpc-java, killed address restarted", sameAddress);
    System.out.printf(
        Locale.ROOT,
        "failover p50 ratio A/B = %.2f, D/B = %.2f, A/C = %.2f; p99 A = %.1f ms, D = %.1f ms%n",
        tether.percentile(50) / pickFirst.percentile(50),
        standby.percentile(50) / pickFirst.percentile(50),
        tether.percentile(50) / sameAddress.percentile(50),
        tether.percentile(99),
        standby.percentile(99));
    print("the kill itself (floor)", KILL);
    PlannedMoveBench.run(quick ? 5 : 20);
  }

  private static void print(String what, Stats stats) {
    System.out.printf(Locale.ROOT, "failover %-42s %s%n", what, stats.summary());
  }

  /** Calls until one succeeds; each call waits for a connection up to 5 s. */
  private static void callUntilSuccess(Echo.Stub stub) {
    for (int i = 0; ; i++) {
      try {
        stub.withWaitForReady().withDeadlineAfter(5, TimeUnit.SECONDS).say("x");
        return;
      } catch (StatusRuntimeException e) {
        if (System.getProperty("bench.debug") != null) {
          System.out.printf(
              Locale.ROOT,
              "  call failed at %.2f ms: %s%n",
              (System.nanoTime() - LAST_KILL.get()) / 1e6,
              e.getStatus());
        }
        if (i > 1000) {
          throw e;
        }
      }
    }
  }

  static String whoServes(Echo.Stub stub) {
    return stub.withWaitForReady().withDeadlineAfter(10, TimeUnit.SECONDS).say("who");
  }

  /** A, or D with {@code standby}: Tether's PersistentChannel on an alternating lookup. */
  private static Stats tether(int trials, boolean standby) throws Exception {
    Replica r1 = new Replica("r1");
    Replica r2 = new Replica("r2");
    List<HostAndPort> replicas = List.of(r1.address(), r2.address());
    AtomicInteger next = new AtomicInteger();
    AtomicLong connectedAt = new AtomicLong();
    PersistentConnection<HostAndPort, GrpcConnection<HostAndPort>> connection =
        GrpcConnector.persistentConnection("bench", ChannelFactory.plaintext())
            .addressLookup(
                () -> Futures.immediateFuture(replicas.get(next.getAndIncrement() % replicas.size())))
            .retryDelay(RETRY_DELAY)
            .standby(standby)
            .logger(org.slf4j.helpers.NOPLogger.NOP_LOGGER)
            .onEvent(
                event -> {
                  if (event instanceof Event.Connected) {
                    connectedAt.set(System.nanoTime());
                  }
                  if (System.getProperty("bench.debug") != null) {
                    System.out.printf(
                        Locale.ROOT,
                        "  %s at %.2f ms on %s%n",
                        event,
                        (System.nanoTime() - LAST_KILL.get()) / 1e6,
                        Thread.currentThread().getName());
                  }
                })
            .build();
    Echo.Stub stub = new Echo.Stub(PersistentChannel.of(connection));
    try {
      return killTheServingReplica(
          trials,
          stub,
          r1,
          r2,
          () -> {
            if (standby) {
              // The standby is live: connected to the other replica.
              while (connection.state().standbyAddress() == null) {
                TimeUnit.MILLISECONDS.sleep(1);
              }
              return;
            }
            // A long-lived connection: older than the randomized retry delay (at most 1.3 x).
            long wait = RETRY_DELAY.toNanos() * 14 / 10 - (System.nanoTime() - connectedAt.get());
            if (wait > 0) {
              TimeUnit.NANOSECONDS.sleep(wait);
            }
          });
    } finally {
      connection.close().get(10, TimeUnit.SECONDS);
      r1.kill();
      r2.kill();
    }
  }

  /** Before each kill, a caller-specific wait; then the trial that all clients share. */
  @FunctionalInterface
  private interface BeforeKill {
    void run() throws InterruptedException;
  }

  /**
   * Runs the trials: find the replica that serves, kill it, time the first successful call, start
   * the replica again on its port.
   */
  private static Stats killTheServingReplica(
      int trials, Echo.Stub stub, Replica r1, Replica r2, BeforeKill beforeKill) throws Exception {
    Stats stats = new Stats();
    for (int trial = 0; trial < trials; trial++) {
      Replica victim = whoServes(stub).startsWith("r1") ? r1 : r2;
      beforeKill.run();
      long killed = System.nanoTime();
      LAST_KILL.set(killed);
      victim.kill();
      KILL.add(System.nanoTime() - killed);
      callUntilSuccess(stub);
      if (System.getProperty("bench.debug") != null) {
        System.out.printf(Locale.ROOT, "  success at %.2f ms%n", (System.nanoTime() - killed) / 1e6);
      }
      stats.add(System.nanoTime() - killed);
      victim.start();
    }
    return stats;
  }

  private static Stats pickFirst(int trials) throws Exception {
    Replica r1 = new Replica("r1");
    Replica r2 = new Replica("r2");
    ManagedChannel channel = pickFirst(r1, r2);
    try {
      return killTheServingReplica(trials, new Echo.Stub(channel), r1, r2, () -> {});
    } finally {
      channel.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
      r1.kill();
      r2.kill();
    }
  }

  /** A plain channel given both replicas' addresses: pick_first, through a static resolver. */
  static ManagedChannel pickFirst(Replica r1, Replica r2) {
    return NettyChannelBuilder.forTarget(
            StaticResolverProvider.target(List.of(r1.address(), r2.address())))
        .usePlaintext()
        .build();
  }

  private static Stats sameAddress(int trials) throws Exception {
    Replica replica = new Replica("r1");
    ManagedChannel channel =
        NettyChannelBuilder.forAddress("127.0.0.1", replica.port()).usePlaintext().build();
    Echo.Stub stub = new Echo.Stub(channel);
    Stats stats = new Stats();
    try {
      for (int trial = 0; trial < trials; trial++) {
        whoServes(stub);
        long killed = System.nanoTime();
        replica.kill();
        replica.start();
        callUntilSuccess(stub);
        stats.add(System.nanoTime() - killed);
      }
    } finally {
      channel.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
      replica.kill();
    }
    return stats;
  }
}
