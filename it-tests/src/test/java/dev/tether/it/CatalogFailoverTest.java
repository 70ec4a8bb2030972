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

  private PersistentConnection<HostAndPort, GrpcConnection<HostAndPort>> connectThroughTheCatalog(
      EventQueue<HostAndPort, GrpcConnection<HostAndPort>> events) {
    return GrpcConnector.persistentConnection("echo", ChannelFactory.plaintext())
        .addressLookup(catalog.lookup())
        .retryDelay(Duration.ofMillis(200))
        .onEvent(events)
        .build();
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
        connectThroughTheCatalog(events);
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
        connectThroughTheCatalog(events);
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

  @Test
  void callsMadeTheMomentTheServingReplicaDies_allSucceedWithinTheirDeadline() throws Exception {
    Server a = servers.netty("a", 0);
    Server b = servers.netty("b", 0);
    catalog.publish(address(a));
    catalog.publish(address(b));
    PersistentConnection<HostAndPort, GrpcConnection<HostAndPort>> connection =
        GrpcConnector.persistentConnection("echo", ChannelFactory.plaintext())
            .addressLookup(catalog.lookup())
            .retryDelay(Duration.ofMillis(50))
            .build();
    try {
      Echo.Stub stub = new Echo.Stub(PersistentChannel.of(connection)).withWaitForReady();
      for (int trial = 0; trial < 20; trial++) {
        String served = stub.withDeadlineAfter(10, TimeUnit.SECONDS).say("who");
        Server victim = served.startsWith("a") ? a : b;
        int port = Servers.port(victim);
        catalog.withdraw(address(victim));
        victim.shutdownNow();
        // Calls made right away race the drop. One already on the dying transport may fail
        // there (gRPC's rule); one that never left this client must move, not hang.
        long began = System.nanoTime();
        for (int call = 0; call < 3; call++) {
          try {
            stub.withDeadlineAfter(5, TimeUnit.SECONDS).say("during");
          } catch (io.grpc.StatusRuntimeException e) {
            assertTrue(
                e.getStatus().getCode() != io.grpc.Status.Code.DEADLINE_EXCEEDED,
                "trial " + trial + ": a call hung until its deadline: " + e.getStatus());
          }
        }
        assertTrue(TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - began) < 5);
        victim.awaitTermination(10, TimeUnit.SECONDS);
        Server back = servers.netty(victim == a ? "a" : "b", port);
        if (victim == a) {
          a = back;
        } else {
          b = back;
        }
        catalog.publish(address(back));
      }
    } finally {
      connection.close().get(10, TimeUnit.SECONDS);
    }
  }
}
