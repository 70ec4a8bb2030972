package dev.tether.zookeeper;

import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.common.net.HostAndPort;
import dev.tether.AddressLookup;
import dev.tether.testsupport.LoopbackZooKeeper;
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
    try (TestingCluster cluster = new TestingCluster(LoopbackZooKeeper.specs(3))) {
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
