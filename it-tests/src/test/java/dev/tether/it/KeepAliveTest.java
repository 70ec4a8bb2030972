package dev.tether.it;

import static com.google.common.util.concurrent.Futures.immediateFuture;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.common.net.HostAndPort;
import dev.tether.Event;
import dev.tether.PersistentConnection;
import dev.tether.grpc.ChannelFactory;
import dev.tether.grpc.Echo;
import dev.tether.grpc.EventQueue;
import dev.tether.grpc.GrpcConnection;
import dev.tether.grpc.GrpcConnector;
import dev.tether.grpc.PersistentChannel;
import dev.tether.testing.faults.FaultProxy;
import io.grpc.InsecureServerCredentials;
import io.grpc.Server;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * A peer that went silent without closing (frozen through a {@link FaultProxy}: the sockets stay
 * open) is noticed through keepalive and replaced.
 */
class KeepAliveTest {
  @RegisterExtension final FaultProxy proxy = FaultProxy.create();

  @Test
  void halfOpenPeer_isDetectedByKeepAlive_andReplaced() throws Exception {
    Server server =
        NettyServerBuilder.forAddress(
                new InetSocketAddress(InetAddress.getByAddress(new byte[] {127, 0, 0, 1}), 0), InsecureServerCredentials.create())
            .addService(Echo.service("echo"))
            .permitKeepAliveTime(1, TimeUnit.SECONDS)
            .permitKeepAliveWithoutCalls(true)
            .build()
            .start();
    proxy.target(server.getPort());
    EventQueue<HostAndPort, GrpcConnection<HostAndPort>> events = new EventQueue<>();
    PersistentConnection<HostAndPort, GrpcConnection<HostAndPort>> connection =
        GrpcConnector.builder(ChannelFactory.plaintext())
            .keepAlive(Duration.ofSeconds(10), Duration.ofSeconds(1), true) // 10 s is gRPC's floor
            .build()
            .persistentConnection("echo")
            .addressLookup(() -> immediateFuture(proxy.address()))
            .retryDelay(Duration.ofMillis(100))
            .onEvent(events)
            .build();
    try {
      Echo.Stub stub =
          new Echo.Stub(PersistentChannel.of(connection)).withWaitForReady().withDeadlineAfter(10, TimeUnit.SECONDS);
      assertEquals("echo: before", stub.say("before"));
      GrpcConnection<HostAndPort> first = connection.connected().get(10, TimeUnit.SECONDS);

      proxy.freeze();
      // Without keepalive this connection would look READY forever.
      events.next(Event.Disconnected.class, 30);
      proxy.thaw(); // the next connection goes through
      events.next(Event.Connected.class, 10);
      GrpcConnection<HostAndPort> second = connection.connected().get(10, TimeUnit.SECONDS);
      assertNotSame(first, second);
      assertTrue(first.isClosed());
      assertEquals("echo: after", stub.withDeadlineAfter(10, TimeUnit.SECONDS).say("after"));
    } finally {
      connection.close().get(10, TimeUnit.SECONDS);
      server.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    }
  }
}
