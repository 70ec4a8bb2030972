package dev.tether.guice;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.common.net.HostAndPort;
import com.google.inject.AbstractModule;
import com.google.inject.Guice;
import com.google.inject.Injector;
import com.google.inject.Key;
import com.google.inject.name.Names;
import dev.tether.grpc.ChannelFactory;
import dev.tether.grpc.Echo;
import dev.tether.grpc.Servers;
import dev.tether.zookeeper.ZooKeeperCatalog;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.Server;
import io.grpc.stub.ClientCalls;
import java.util.concurrent.TimeUnit;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.retry.RetryOneTime;
import org.apache.curator.test.TestingServer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** A connection whose lookup is a ZooKeeperCatalog's, bound in Guice in one line. */
class CatalogLookupTest {
  @RegisterExtension final Servers servers = new Servers();

  @Test
  void aConnectionLooksItsServiceUpInTheCatalogBoundInTheInjector() throws Exception {
    Server replica = servers.netty("R", 0);
    try (TestingServer zookeeper = dev.tether.testsupport.LoopbackZooKeeper.server();
        CuratorFramework curator =
            CuratorFrameworkFactory.newClient(zookeeper.getConnectString(), new RetryOneTime(100))) {
      curator.start();
      assertTrue(curator.blockUntilConnected(10, TimeUnit.SECONDS));
      try (ZooKeeperCatalog catalog = ZooKeeperCatalog.create(curator, "/services")) {
        catalog.register("echo", Servers.address(replica));
        Injector injector =
            Guice.createInjector(
                new AbstractModule() {
                  @Override
                  protected void configure() {
                    bind(ZooKeeperCatalog.class).toInstance(catalog);
                  }
                },
                GrpcConnectionModule.builder("echo", HostAndPort.class, ChannelFactory.plaintext())
                    .lookup(CatalogLookup.of("echo"))
                    .build());
        try {
          Channel channel = injector.getInstance(Key.get(Channel.class, Names.named("echo")));
          String answer =
              ClientCalls.blockingUnaryCall(
                  channel,
                  Echo.SAY,
                  CallOptions.DEFAULT.withWaitForReady().withDeadlineAfter(10, TimeUnit.SECONDS),
                  "hi");
          assertEquals("R: hi", answer);
        } finally {
          injector.getInstance(ConnectionRegistry.class).closeAll().get(10, TimeUnit.SECONDS);
        }
      }
    }
  }

  @Test
  @SuppressWarnings("NullAway") // the null is the point
  void badInput_failsAtOnce_namingIt() {
    assertEquals("service", assertThrows(NullPointerException.class, () -> CatalogLookup.of(null)).getMessage());
    assertTrue(
        assertThrows(IllegalArgumentException.class, () -> CatalogLookup.of(" "))
            .getMessage()
            .contains("service"));
  }
}
