package dev.tether.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.common.net.HostAndPort;
import dev.tether.ConnectionState;
import dev.tether.PersistentConnection;
import dev.tether.Subscription;
import dev.tether.grpc.ChannelFactory;
import dev.tether.grpc.GrpcConnection;
import dev.tether.grpc.GrpcConnector;
import dev.tether.grpc.PersistentChannel;
import dev.tether.grpc.Servers;
import dev.tether.zookeeper.Registration;
import dev.tether.zookeeper.ZooKeeperCatalog;
import io.grpc.CallOptions;
import io.grpc.Server;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.retry.RetryOneTime;
import org.apache.curator.test.TestingServer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Three replicas on loopback Netty registered in a catalog on a real ZooKeeper; a client on the
 * catalog with {@code followMoves}. A rolling restart (deregister, drain, stop gracefully, start,
 * register) under steady traffic, fail-fast and wait-for-ready: no call fails. Then the serving
 * replica is killed abruptly while still listed: calls move to another within the retry delay.
 */
class ZooKeeperRollingRestartTest {
  private static final Duration RETRY_DELAY = Duration.ofMillis(300);

  @RegisterExtension final Servers servers = new Servers();

  /** A replica that keeps its port across restarts. */
  private final class Replica {
    final String name;
    final int port;
    Server server;
    Registration registration;

    Replica(String name, ZooKeeperCatalog catalog) {
      this.name = name;
      this.server = servers.netty(name, 0);
      this.port = Servers.port(server);
      this.registration = catalog.register("echo", address());
    }

    HostAndPort address() {
      return HostAndPort.fromParts("127.0.0.1", port);
    }
  }

  @Test
  void rollingRestartUnderTraffic_losesNoCall_andAnAbruptKillMovesWithinTheRetryDelay()
      throws Exception {
    try (TestingServer zookeeper = dev.tether.testsupport.LoopbackZooKeeper.server();
        CuratorFramework curator =
            CuratorFrameworkFactory.newClient(zookeeper.getConnectString(), new RetryOneTime(100))) {
      curator.start();
      assertTrue(curator.blockUntilConnected(10, TimeUnit.SECONDS));
      try (ZooKeeperCatalog catalog = ZooKeeperCatalog.create(curator, "/services")) {
        List<Replica> replicas = new ArrayList<>();
        for (String name : List.of("A", "B", "C")) {
          replicas.add(new Replica(name, catalog));
        }
        PersistentConnection<HostAndPort, GrpcConnection<HostAndPort>> connection =
            GrpcConnector.persistentConnection("echo", ChannelFactory.plaintext())
                .addressLookup(catalog.lookup("echo"))
                .retryDelay(RETRY_DELAY)
                .build();
        PersistentChannel channel = PersistentChannel.of(connection);
        AtomicInteger turn = new AtomicInteger();
        try (Subscription following = catalog.followMoves("echo", connection)) {
          connection.connected().get(10, TimeUnit.SECONDS);
          Traffic traffic =
              new Traffic(
                  channel,
                  () -> {
                    CallOptions options =
                        CallOptions.DEFAULT.withDeadlineAfter(5, TimeUnit.SECONDS);
                    return turn.getAndIncrement() % 2 == 0 ? options : options.withWaitForReady();
                  },
                  4,
                  2);
          try {
            for (Replica replica : replicas) {
              long answered = traffic.outcomes().size();
              replica.registration.close();
              // followMoves hands over, if the client was there; then the replica drains and stops.
              States.await(
                  connection,
                  state -> !replica.address().equals(state.address()),
                  "a handover away from " + replica.name,
                  10);
              waitForAnswers(traffic, answered + 100);
              replica.server.shutdown();
              assertTrue(replica.server.awaitTermination(20, TimeUnit.SECONDS));
              replica.server = servers.netty(replica.name, replica.port);
              replica.registration = catalog.register("echo", replica.address());
            }
            waitForAnswers(traffic, traffic.outcomes().size() + 100);
            assertEquals(List.of(), traffic.failures(), "rolling restart: " + traffic.summary());

            // Abruptly, and still listed (its ZooKeeper session would outlive it for seconds).
            HostAndPort serving = java.util.Objects.requireNonNull(connection.state().address());
            Replica victim =
                replicas.stream().filter(r -> r.address().equals(serving)).findFirst().orElseThrow();
            long attemptsBefore = connection.state().attempts();
            long killed = System.nanoTime();
            victim.server.shutdownNow();
            States.await(
                connection,
                state ->
                    state.status() == ConnectionState.Status.CONNECTED
                        && !serving.equals(state.address()),
                "a connection to another replica after the kill",
                10);
            // The long-lived connection's drop starts a round at once; its lookup may still
            // answer the listed victim once, which costs one retry delay, never more.
            long attempts = connection.state().attempts() - attemptsBefore;
            assertTrue(attempts <= 2, "moved within one retry delay, but took " + attempts + " attempts");
            long tookMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - killed);
            assertTrue( // a retry delay (at most 1.3 x 300 ms), with room for a busy machine
                tookMillis < RETRY_DELAY.toMillis() * 13 / 10 + 3_000,
                "moved within the retry delay, but took " + tookMillis + " ms");
            waitForAnswers(traffic, traffic.outcomes().size() + 100);
          } finally {
            traffic.close();
          }
        } finally {
          connection.close().get(10, TimeUnit.SECONDS);
        }
      }
    }
  }

  private static void waitForAnswers(Traffic traffic, long count) throws InterruptedException {
    assertTrue(traffic.awaitOutcomes(count, 20_000), () -> "traffic stalled: " + traffic.summary());
  }
}
