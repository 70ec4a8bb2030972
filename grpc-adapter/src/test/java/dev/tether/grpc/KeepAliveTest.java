package dev.tether.grpc;

import static com.google.common.util.concurrent.Futures.immediateFuture;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.common.net.HostAndPort;
import dev.tether.Event;
import dev.tether.PersistentConnection;
import io.grpc.InsecureServerCredentials;
import io.grpc.Server;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** A half-open peer is noticed through keepalive and replaced. */
class KeepAliveTest {
  @RegisterExtension final Servers servers = new Servers();

  @Test
  void halfOpenPeer_isDetectedByKeepAlive_andReplaced() throws Exception {
    Server server =
        servers.netty(
            "echo",
            0,
            InsecureServerCredentials.create(),
            builder ->
                builder.permitKeepAliveTime(1, TimeUnit.SECONDS).permitKeepAliveWithoutCalls(true));
    try (FreezingProxy proxy = new FreezingProxy(Servers.port(server))) {
      EventQueue<HostAndPort, GrpcConnection<HostAndPort>> events = new EventQueue<>();
      PersistentConnection<HostAndPort, GrpcConnection<HostAndPort>> connection =
          GrpcConnector.builder(ChannelFactory.plaintext())
              .keepAlive(Duration.ofSeconds(10), Duration.ofSeconds(1), true) // 10 s is gRPC's floor
              .build()
              .persistentConnection("echo")
              .addressLookup(() -> immediateFuture(HostAndPort.fromParts("127.0.0.1", proxy.port())))
              .retryDelay(Duration.ofMillis(100))
              .onEvent(events)
              .build();
      try {
        Echo.Stub stub =
            new Echo.Stub(PersistentChannel.of(connection))
                .withWaitForReady()
                .withDeadlineAfter(10, TimeUnit.SECONDS);
        assertEquals("echo: before", stub.say("before"));
        GrpcConnection<HostAndPort> first = connection.connected().get(10, TimeUnit.SECONDS);

        proxy.freezeExisting();
        // Without keepalive this connection would look READY forever.
        events.next(Event.Disconnected.class, 30);
        events.next(Event.Connected.class, 10);
        GrpcConnection<HostAndPort> second = connection.connected().get(10, TimeUnit.SECONDS);
        assertNotSame(first, second);
        assertTrue(first.isClosed());
        assertEquals(
            "echo: after",
            stub.withDeadlineAfter(10, TimeUnit.SECONDS).say("after"));
      } finally {
        connection.close().get(10, TimeUnit.SECONDS);
      }
    }
  }
}
