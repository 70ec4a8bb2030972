package dev.tether.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.common.net.HostAndPort;
import com.google.common.util.concurrent.Futures;
import dev.tether.ConnectionState;
import dev.tether.EventGrammar;
import dev.tether.PersistentConnection;
import dev.tether.grpc.ChannelFactory;
import dev.tether.grpc.GrpcConnection;
import dev.tether.grpc.GrpcConnector;
import dev.tether.grpc.PersistentChannel;
import dev.tether.grpc.RecordingFactory;
import dev.tether.grpc.Servers;
import io.grpc.Server;
import io.grpc.Status;
import java.time.Duration;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * An unplanned failover to the warm standby under steady traffic on loopback Netty: the serving
 * replica is killed ({@code shutdownNow()}); the standby, already connected to the other one,
 * becomes current with no lookup and no connect, and the traffic goes on there.
 */
class StandbyFailoverTest {
  private static final long DEADLINE_MS = 3_000;

  @RegisterExtension final Servers servers = new Servers();

  @Test
  void servingReplicaKilled_theStandbyTakesOver_andTrafficGoesOnThere() throws Exception {
    Server a = servers.netty("A", 0);
    Server b = servers.netty("B", 0);
    // A catalog that answers its replicas in turn, skipping withdrawn ones.
    List<HostAndPort> published = new CopyOnWriteArrayList<>(List.of(Servers.address(a), Servers.address(b)));
    AtomicInteger turn = new AtomicInteger();
    Queue<String> problems = new ConcurrentLinkedQueue<>();
    CompletableFuture<GrpcConnection<HostAndPort>> afterKill = new CompletableFuture<>();
    RecordingFactory<HostAndPort> channels = new RecordingFactory<>(ChannelFactory.plaintext());
    PersistentConnection<HostAndPort, GrpcConnection<HostAndPort>> connection =
        GrpcConnector.builder((ChannelFactory<HostAndPort>) channels)
            .build()
            .persistentConnection("echo")
            .addressLookup(
                () -> {
                  List<HostAndPort> now = published;
                  return Futures.immediateFuture(now.get(turn.getAndIncrement() % now.size()));
                })
            .retryDelay(Duration.ofMillis(200))
            .standby(true)
            .onEvent(new EventGrammar<>("standby", true, problems, new AtomicInteger()))
            .build();
    PersistentChannel channel = PersistentChannel.of(connection);
    try {
      GrpcConnection<HostAndPort> onA = connection.connected().get(10, TimeUnit.SECONDS);
      assertEquals(Servers.address(a), onA.address());
      CompletableFuture<ConnectionState<HostAndPort, GrpcConnection<HostAndPort>>> standing =
          new CompletableFuture<>();
      connection.subscribeState(
          state -> {
            if (Servers.address(b).equals(state.standbyAddress())) {
              standing.complete(state);
            }
            if (state.connection() != null && state.connection() != onA) {
              afterKill.complete(state.connection());
            }
          });
      standing.get(10, TimeUnit.SECONDS);

      Traffic traffic = Traffic.waitForReady(channel, DEADLINE_MS, 4, 2);
      try {
        assertTrue(traffic.awaitAnswers("A", 300, 10_000), traffic.summary());
        int channelsBefore = channels.created().size();
        assertEquals(2, channelsBefore, "one to A, the standby's to B");
        published.remove(Servers.address(a));
        a.shutdownNow(); // unplanned

        GrpcConnection<HostAndPort> onB = afterKill.get(10, TimeUnit.SECONDS);
        assertEquals(Servers.address(b), onB.address());
        assertEquals(channelsBefore, channels.created().size(), "the standby's: no new channel");
        assertTrue(traffic.awaitAnswers("B", 300, 10_000), traffic.summary());
        assertSame(onB, connection.currentConnection());
      } finally {
        traffic.close();
      }
      // Only calls that were on A when it died may fail: UNAVAILABLE, or CANCELLED by the
      // server's reset; at most one per caller, none outliving its deadline.
      List<Traffic.Outcome> failed = traffic.failures();
      assertEquals(
          List.of(),
          Traffic.unexplained(
              failed, java.util.Set.of(Status.Code.UNAVAILABLE, Status.Code.CANCELLED), DEADLINE_MS),
          traffic.summary());
      assertTrue(failed.size() <= 6, "more failures than calls in flight: " + traffic.summary());
      assertEquals(List.of(), List.copyOf(problems), "events well-formed");
    } finally {
      connection.close().get(10, TimeUnit.SECONDS);
    }
  }
}
