package dev.tether.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
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
import dev.tether.grpc.Servers;
import io.grpc.Server;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** Failover through a catalog of three loopback Netty replicas, and a restart on the same port. */
class CatalogFailoverTest {
  @RegisterExtension final Servers servers = new Servers();
  private final Catalog catalog = new Catalog();

  private static HostAndPort address(Server server) {
    return HostAndPort.fromParts("127.0.0.1", Servers.port(server));
  }

  private static String describe(Event<?, ?> event) {
    if (event instanceof Event.ObtainedAddress<?, ?> obtained) {
      return "ObtainedAddress " + obtained.address();
    }
    return event.getClass().getSimpleName();
  }

  @Test
  void servingReplicaKilled_callsSucceedOnAnother_andTheEventsTellIt() throws Exception {
    List<Server> replicas = new ArrayList<>();
    for (String id : List.of("r1", "r2", "r3")) {
      Server replica = servers.netty(id, 0);
      replicas.add(replica);
      catalog.publish(address(replica));
    }
    EventQueue<HostAndPort, GrpcConnection<HostAndPort>> events = new EventQueue<>();
    PersistentConnection<HostAndPort, GrpcConnection<HostAndPort>> connection =
        GrpcConnector.persistentConnection("echo", ChannelFactory.plaintext())
            .addressLookup(catalog.lookup())
            .retryDelay(Duration.ofMillis(200))
            .onEvent(events)
            .build();
    try {
      Echo.Stub stub = new Echo.Stub(PersistentChannel.of(connection)).withWaitForReady();
      assertEquals("r1: before", stub.withDeadlineAfter(10, TimeUnit.SECONDS).say("before"));
      int seenBefore = events.all().size();

      catalog.withdraw(address(replicas.get(0)));
      replicas.get(0).shutdownNow();
      // A call already on r1's transport when it dies fails there, as in gRPC: wait for the
      // drop to be noticed and the new connection made.
      events.next(Event.Disconnected.class, 10);
      events.next(Event.Connected.class, 10);

      for (int i = 0; i < 20; i++) {
        assertEquals("r2: " + i, stub.withDeadlineAfter(5, TimeUnit.SECONDS).say(String.valueOf(i)));
      }
      List<String> after =
          events.all().subList(seenBefore, events.all().size()).stream()
              .map(CatalogFailoverTest::describe)
              .toList();
      assertEquals(
          List.of(
              "Disconnected",
              "AttemptingToConnect",
              "ObtainedAddress " + address(replicas.get(1)),
              "Connected"),
          after);
    } finally {
      connection.close().get(10, TimeUnit.SECONDS);
    }
  }

  @Test
  void replicaRestartedOnTheSamePort_stubsBuiltOnceWorkAgain() throws Exception {
    Server replica = servers.netty("first-life", 0);
    int port = Servers.port(replica);
    catalog.publish(address(replica));
    EventQueue<HostAndPort, GrpcConnection<HostAndPort>> events = new EventQueue<>();
    PersistentConnection<HostAndPort, GrpcConnection<HostAndPort>> connection =
        GrpcConnector.persistentConnection("echo", ChannelFactory.plaintext())
            .addressLookup(catalog.lookup())
            .retryDelay(Duration.ofMillis(200))
            .onEvent(events)
            .build();
    try {
      PersistentChannel channel = PersistentChannel.of(connection);
      Echo.Stub blocking = new Echo.Stub(channel).withWaitForReady();
      assertEquals("first-life: a", blocking.withDeadlineAfter(10, TimeUnit.SECONDS).say("a"));

      replica.shutdownNow();
      events.next(Event.Disconnected.class, 10);
      events.next(Event.FailedToConnect.class, 10); // refused while it is down

      servers.netty("second-life", port);
      assertEquals("second-life: b", blocking.withDeadlineAfter(10, TimeUnit.SECONDS).say("b"));
      assertTrue(connection.currentConnection() != null);
    } finally {
      connection.close().get(10, TimeUnit.SECONDS);
    }
  }
}
