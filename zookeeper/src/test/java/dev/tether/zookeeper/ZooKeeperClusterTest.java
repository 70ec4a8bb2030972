package dev.tether.zookeeper;

import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.common.net.HostAndPort;
import dev.tether.AddressLookup;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.retry.ExponentialBackoffRetry;
import org.apache.curator.test.InstanceSpec;
import org.apache.curator.test.TestingCluster;
import org.junit.jupiter.api.Test;

/** The catalog on a real three-member ZooKeeper ensemble (Curator's TestingCluster) losing a member. */
class ZooKeeperClusterTest {
  private static final HostAndPort A = HostAndPort.fromParts("127.0.0.1", 50051);
  private static final HostAndPort B = HostAndPort.fromParts("127.0.0.1", 50052);

  @Test
  void losingAnEnsembleMember_keepsRegistrationsAndLookupsWorking() throws Exception {
    try (TestingCluster cluster = new TestingCluster(loopbackEnsemble(3))) {
      cluster.start();
      try (CuratorFramework replicaClient = client(cluster);
          CuratorFramework clientClient = client(cluster);
          ZooKeeperCatalog replicas = ZooKeeperCatalog.create(replicaClient, "/services");
          ZooKeeperCatalog clients = ZooKeeperCatalog.create(clientClient, "/services")) {
        replicas.register("orders", A);
        AddressLookup<HostAndPort> lookup = clients.lookup("orders");
        Answers.eventually("A listed", () -> Answers.answer(lookup, 5).equals(A.toString()));

        InstanceSpec member = cluster.getInstances().iterator().next();
        assertTrue(cluster.killServer(member), "a member killed");

        // The ensemble keeps its quorum: the registration stays, and new ones show up.
        replicas.register("orders", B);
        Answers.eventually(
            "A and B listed", () -> List.of(Answers.answer(lookup, 5), Answers.answer(lookup, 5)).containsAll(List.of(A.toString(), B.toString())));
      }
    }
  }

  /**
   * The specs of an ensemble of {@code size} members on 127.0.0.1, with nine distinct ports taken
   * below Linux's ephemeral range. Curator's own choice (a port the OS gave a socket it then
   * closed, one port at a time) can give two members the same port, or a port that an outgoing
   * connection takes meanwhile; ZooKeeper then fails to bind and ends the JVM.
   */
  private static List<InstanceSpec> loopbackEnsemble(int size) throws java.io.IOException {
    java.net.InetAddress loopback = java.net.InetAddress.getByAddress(new byte[] {127, 0, 0, 1});
    java.util.Random random = new java.util.Random();
    List<java.net.ServerSocket> held = new java.util.ArrayList<>();
    try {
      while (held.size() < size * 3) {
        try {
          held.add(new java.net.ServerSocket(20_000 + random.nextInt(12_000), 1, loopback));
        } catch (java.io.IOException inUse) {
          // taken: another one
        }
      }
      List<InstanceSpec> specs = new java.util.ArrayList<>();
      for (int i = 0; i < size; i++) {
        specs.add(
            new InstanceSpec(
                null,
                held.get(3 * i).getLocalPort(),
                held.get(3 * i + 1).getLocalPort(),
                held.get(3 * i + 2).getLocalPort(),
                true,
                -1,
                -1,
                -1,
                // Loopback only: ZooKeeper listens on every interface unless told otherwise.
                java.util.Map.of("clientPortAddress", "127.0.0.1"),
                "127.0.0.1"));
      }
      return specs;
    } finally {
      for (java.net.ServerSocket socket : held) {
        socket.close();
      }
    }
  }

  private static CuratorFramework client(TestingCluster cluster) throws InterruptedException {
    CuratorFramework client =
        CuratorFrameworkFactory.builder()
            .connectString(cluster.getConnectString())
            .sessionTimeoutMs(15_000)
            .connectionTimeoutMs(5_000)
            .retryPolicy(new ExponentialBackoffRetry(100, 5))
            .build();
    client.start();
    assertTrue(client.blockUntilConnected(15, TimeUnit.SECONDS), "connected to the ensemble");
    return client;
  }


}
