package dev.tether.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.common.net.HostAndPort;
import com.google.common.util.concurrent.Futures;
import dev.tether.EventGrammar;
import dev.tether.PersistentConnection;
import dev.tether.grpc.ChannelFactory;
import dev.tether.grpc.GrpcConnection;
import dev.tether.grpc.GrpcConnector;
import dev.tether.grpc.PersistentChannel;
import io.grpc.Status;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * The standby and the handover against replicas that are processes of their own, under steady
 * unary and flow-controlled streaming traffic: the serving replica is killed with SIGKILL and the
 * standby takes over without a new channel; then a planned move hands over to the next standby
 * while the replica it leaves stops gracefully, and no call fails for it.
 */
class ProcessStandbyTest {
  private static final long DEADLINE_MS = 3_000;

  @Test
  void killedReplica_standbyTakesOver_thenAPlannedMove_losesNoCall() throws Exception {
    try (ReplicaProcess.Handle a = ReplicaProcess.Handle.start("A");
        ReplicaProcess.Handle b = ReplicaProcess.Handle.start("B");
        ReplicaProcess.Handle c = ReplicaProcess.Handle.start("C")) {
      HostAndPort addressA = address(a);
      HostAndPort addressB = address(b);
      HostAndPort addressC = address(c);
      // A catalog that answers its replicas in turn; A first.
      List<HostAndPort> published = new CopyOnWriteArrayList<>(List.of(addressA, addressB));
      AtomicInteger turn = new AtomicInteger();
      Map<HostAndPort, Integer> channelsTo = new ConcurrentHashMap<>();
      ChannelFactory<HostAndPort> plaintext = ChannelFactory.plaintext();
      Queue<String> problems = new ConcurrentLinkedQueue<>();
      PersistentConnection<HostAndPort, GrpcConnection<HostAndPort>> connection =
          GrpcConnector.<HostAndPort>persistentConnection(
                  "echo",
                  address -> {
                    channelsTo.merge(address, 1, Integer::sum);
                    return plaintext.newChannelBuilder(address);
                  })
              .addressLookup(
                  () -> {
                    List<HostAndPort> now = List.copyOf(published);
                    return Futures.immediateFuture(now.get(turn.getAndIncrement() % now.size()));
                  })
              .retryDelay(Duration.ofMillis(100))
              .standby(true)
              .onEvent(new EventGrammar<>("process standby", true, problems, new AtomicInteger()))
              .build();
      PersistentChannel channel = PersistentChannel.of(connection);
      try {
        assertEquals(addressA, connection.connected().get(10, TimeUnit.SECONDS).address());
        States.await(connection, s -> addressB.equals(s.standbyAddress()), "a standby on B", 20);
        Traffic traffic = Traffic.waitForReady(channel, DEADLINE_MS, 4, 2);
        List<Traffic.Outcome> failedAtTheKill;
        try {
          assertTrue(traffic.awaitAnswers("A", 300, 20_000), traffic.summary());

          // Unplanned: A crashes. The standby on B takes over with no new channel.
          published.remove(addressA);
          published.add(addressC);
          a.kill();
          States.await(
              connection,
              s -> s.connection() != null && s.connection().address().equals(addressB),
              "the standby on B taking over",
              20);
          assertEquals(1, (int) channelsTo.getOrDefault(addressB, 0), "B's standby channel took over");
          assertTrue(traffic.awaitAnswers("B", 300, 20_000), traffic.summary());

          // The next standby, on C (B is current, so the catalog's turn that yields B leaves none
          // until the retry timer).
          States.await(connection, s -> addressC.equals(s.standbyAddress()), "a standby on C", 20);
          failedAtTheKill = traffic.failures();

          // Planned: B leaves the catalog, the client hands over (to the standby on C at once),
          // then B stops gracefully.
          published.remove(addressB);
          assertEquals(addressC, connection.handOver().get(10, TimeUnit.SECONDS).address());
          assertEquals(1, (int) channelsTo.getOrDefault(addressC, 0), "C's standby channel took over");
          assertTrue(b.drain(), "B stopped gracefully");
          long onC = traffic.answeredBy("C");
          assertTrue(traffic.awaitAnswers("C", onC + 300, 20_000), traffic.summary());
        } finally {
          traffic.close();
        }
        // At the crash, only the calls on A may fail, UNAVAILABLE (a killed process sends no
        // reset of its own), one per caller at most, none late.
        assertEquals(
            List.of(),
            Traffic.unexplained(failedAtTheKill, Set.of(Status.Code.UNAVAILABLE), DEADLINE_MS),
            traffic.summary());
        assertTrue(failedAtTheKill.size() <= 6, "more failures than calls: " + traffic.summary());
        // The planned move failed no call.
        assertEquals(failedAtTheKill, traffic.failures(), traffic.summary());
        assertTrue(traffic.outcomes().stream().anyMatch(o -> o.kind().equals("bidi-stream")));
        assertEquals(List.of(), List.copyOf(problems), "events well-formed");
      } finally {
        connection.close().get(10, TimeUnit.SECONDS);
      }
    }
  }

  private static HostAndPort address(ReplicaProcess.Handle replica) {
    return HostAndPort.fromParts("127.0.0.1", replica.port());
  }
}
