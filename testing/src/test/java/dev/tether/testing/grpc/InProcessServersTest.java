package dev.tether.testing.grpc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tether.Event;
import dev.tether.PersistentConnection;
import dev.tether.grpc.Echo;
import dev.tether.grpc.EventQueue;
import dev.tether.grpc.GrpcConnection;
import dev.tether.grpc.GrpcConnector;
import dev.tether.grpc.PersistentChannel;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

class InProcessServersTest {
  @RegisterExtension final InProcessServers servers = InProcessServers.create();

  @Test
  void stopKillRefuseRestart_areSeenByAPersistentConnection() throws Exception {
    InProcessServer orders = servers.start("orders-test", Echo.service("orders"));
    EventQueue<String, GrpcConnection<String>> events = new EventQueue<>();
    PersistentConnection<String, GrpcConnection<String>> connection =
        GrpcConnector.persistentConnection("orders", InProcessServers.channels())
            .addressLookup(orders.lookup())
            .retryDelay(Duration.ofMillis(50))
            .onEvent(events)
            .build();
    try {
      Echo.Stub stub =
          new Echo.Stub(PersistentChannel.of(connection))
              .withWaitForReady()
              .withDeadlineAfter(10, TimeUnit.SECONDS);
      assertEquals("orders: 1", stub.say("1"));

      orders.stop();
      assertFalse(orders.isRunning());
      events.next(Event.Disconnected.class, 10);
      Event.FailedToConnect<?, ?> refused =
          (Event.FailedToConnect<?, ?>) events.next(Event.FailedToConnect.class, 10);
      assertTrue(String.valueOf(refused.error().getMessage()).contains("Could not find server"));

      orders.restart();
      assertTrue(orders.isRunning());
      assertEquals("orders: 2", stub.withDeadlineAfter(10, TimeUnit.SECONDS).say("2"));

      orders.refuseConnections();
      events.next(Event.Disconnected.class, 10);
      orders.restart();
      orders.kill();
      orders.restart();
      assertEquals("orders: 3", stub.withDeadlineAfter(10, TimeUnit.SECONDS).say("3"));
    } finally {
      connection.close().get(10, TimeUnit.SECONDS);
    }
  }

  @Test
  void generatedNames_areUnique() {
    InProcessServer a = servers.start(Echo.service("a"));
    InProcessServer b = servers.start(Echo.service("b"));
    assertFalse(a.name().equals(b.name()));
  }

  @Test
  void aSecondServerOfTheSameName_failsWithIllegalStateException_namingIt() {
    servers.start("twice", Echo.service("first"));
    IllegalStateException e =
        org.junit.jupiter.api.Assertions.assertThrows(
            IllegalStateException.class, () -> servers.start("twice", Echo.service("second")));
    org.junit.jupiter.api.Assertions.assertTrue(
        String.valueOf(e.getMessage()).contains("twice"), e.getMessage());
  }
}
