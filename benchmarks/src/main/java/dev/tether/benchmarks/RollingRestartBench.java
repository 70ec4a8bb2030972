package dev.tether.benchmarks;

import com.google.common.net.HostAndPort;
import dev.tether.PersistentConnection;
import dev.tether.Subscription;
import dev.tether.grpc.ChannelFactory;
import dev.tether.grpc.GrpcConnection;
import dev.tether.grpc.GrpcConnector;
import dev.tether.grpc.PersistentChannel;
import dev.tether.zookeeper.Registration;
import dev.tether.zookeeper.ZooKeeperCatalog;
import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.retry.RetryOneTime;
import org.apache.curator.test.TestingServer;

/**
 * A rolling restart of three loopback replicas under load (four threads of fail-fast unary
 * calls). Tether: the replicas register in a {@link ZooKeeperCatalog} on a real ZooKeeper
 * (Curator's TestingServer); the client looks them up there and follows moves; each replica in
 * turn deregisters, waits 1 s, shuts down gracefully, starts and registers again. grpc-java
 * pick_first, given all three addresses: each replica in turn shuts down gracefully and starts
 * again. Counts failed calls and the longest time without a successful one.
 */
final class RollingRestartBench {
  private RollingRestartBench() {}

  static void run(boolean quick) throws Exception {
    int rounds = quick ? 1 : 5;
    StaticResolverProvider.install();
    System.out.printf(
        Locale.ROOT, "rolling restart %-38s %d x 3 restarts: %s%n", "tether, ZooKeeper catalog", rounds, tether(rounds).line());
    System.out.printf(
        Locale.ROOT, "rolling restart %-38s %d x 3 restarts: %s%n", "grpc-java pick_first, all addresses", rounds, pickFirst(rounds).line());
  }

  private static PlannedMoveBench.Result tether(int rounds) throws Exception {
    List<Replica> replicas = List.of(new Replica("r1"), new Replica("r2"), new Replica("r3"));
    try (TestingServer zookeeper = new TestingServer(
            // Loopback only: ZooKeeper listens on every interface unless told otherwise.
            new org.apache.curator.test.InstanceSpec(
                null, -1, -1, -1, true, -1, -1, -1,
                java.util.Map.of("clientPortAddress", "127.0.0.1"), "127.0.0.1"),
            true);
        CuratorFramework curator =
            CuratorFrameworkFactory.newClient(zookeeper.getConnectString(), new RetryOneTime(100))) {
      curator.start();
      curator.blockUntilConnected(10, TimeUnit.SECONDS);
      try (ZooKeeperCatalog catalog = ZooKeeperCatalog.create(curator, "/services")) {
        List<Registration> registrations = new ArrayList<>();
        for (Replica replica : replicas) {
          registrations.add(catalog.register("echo", replica.address()));
        }
        PersistentConnection<HostAndPort, GrpcConnection<HostAndPort>> connection =
            GrpcConnector.persistentConnection("echo", ChannelFactory.plaintext())
                .addressLookup(catalog.lookup("echo"))
                .logger(org.slf4j.helpers.NOPLogger.NOP_LOGGER)
                .build();
        try (Subscription moves = catalog.followMoves("echo", connection)) {
          connection.connected().get(10, TimeUnit.SECONDS);
          int[] next = {0};
          return PlannedMoveBench.underLoad(
              PersistentChannel.of(connection),
              rounds * replicas.size(),
              () -> {
                int i = next[0]++ % replicas.size();
                Replica replica = replicas.get(i);
                registrations.get(i).close();
                TimeUnit.SECONDS.sleep(1); // clients on it hand over
                replica.stopGracefully();
                replica.start();
                registrations.set(i, catalog.register("echo", replica.address()));
                TimeUnit.SECONDS.sleep(1);
              });
        } finally {
          connection.close().get(10, TimeUnit.SECONDS);
        }
      }
    } finally {
      for (Replica replica : replicas) {
        replica.kill();
      }
    }
  }

  private static PlannedMoveBench.Result pickFirst(int rounds) throws Exception {
    List<Replica> replicas = List.of(new Replica("r1"), new Replica("r2"), new Replica("r3"));
    ManagedChannel channel =
        NettyChannelBuilder.forTarget(
                StaticResolverProvider.target(replicas.stream().map(Replica::address).toList()))
            .usePlaintext()
            .build();
    try {
      int[] next = {0};
      return PlannedMoveBench.underLoad(
          channel,
          rounds * replicas.size(),
          () -> {
            Replica replica = replicas.get(next[0]++ % replicas.size());
            TimeUnit.SECONDS.sleep(1); // the same pacing as Tether's
            replica.stopGracefully();
            replica.start();
            TimeUnit.SECONDS.sleep(1);
          });
    } finally {
      channel.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
      for (Replica replica : replicas) {
        replica.kill();
      }
    }
  }
}
