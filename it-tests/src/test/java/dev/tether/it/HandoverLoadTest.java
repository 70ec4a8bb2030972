package dev.tether.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.common.net.HostAndPort;
import com.google.common.util.concurrent.Futures;
import dev.tether.PersistentConnection;
import dev.tether.grpc.ChannelFactory;
import dev.tether.grpc.GrpcConnection;
import dev.tether.grpc.GrpcConnector;
import dev.tether.grpc.PersistentChannel;
import dev.tether.grpc.Servers;
import io.grpc.CallOptions;
import io.grpc.Server;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * A planned move, make before break, under steady traffic on loopback Netty: unary calls (fail-fast
 * and wait-for-ready) and flow-controlled client, server and bidirectional streams run across
 * {@code handOver()}, then the old replica shuts down gracefully. No call may fail.
 */
class HandoverLoadTest {
  private static final int HANDOVERS = 21;
  @RegisterExtension final Servers servers = new Servers();

  @Test
  void handOverUnderSteadyTraffic_losesNoCall() throws Exception {
    for (boolean waitForReady : new boolean[] {false, true}) {
      Server a = servers.netty("A", 0);
      Server b = servers.netty("B", 0);
      AtomicReference<HostAndPort> catalog = new AtomicReference<>(Servers.address(a));
      PersistentConnection<HostAndPort, GrpcConnection<HostAndPort>> connection =
          GrpcConnector.persistentConnection("echo", ChannelFactory.plaintext())
              .addressLookup(() -> Futures.immediateFuture(catalog.get()))
              .retryDelay(Duration.ofMillis(100))
              .build();
      PersistentChannel channel = PersistentChannel.of(connection);
      try {
        GrpcConnection<HostAndPort> onA = connection.connected().get(10, TimeUnit.SECONDS);
        CallOptions options =
            waitForReady
                ? CallOptions.DEFAULT.withWaitForReady()
                : CallOptions.DEFAULT;
        Traffic traffic =
            new Traffic(channel, () -> options.withDeadlineAfter(10, TimeUnit.SECONDS), 4, 3);
        try {
          assertTrue(traffic.awaitAnswers("A", 300, 10_000), traffic.summary());

          // Back and forth, each handover under traffic, ending on B.
          for (int move = 0; move < HANDOVERS; move++) {
            Server to = move % 2 == 0 ? b : a;
            String name = to == b ? "B" : "A";
            long answered = traffic.answeredBy(name);
            catalog.set(Servers.address(to));
            GrpcConnection<HostAndPort> now = connection.handOver().get(10, TimeUnit.SECONDS);
            assertEquals(Servers.address(to), now.address());
            assertTrue(traffic.awaitAnswers(name, answered + 50, 10_000), traffic.summary());
          }

          a.shutdown(); // the old replica leaves gracefully, as in a planned move
          assertTrue(a.awaitTermination(20, TimeUnit.SECONDS), "A drained");
          long onBNow = traffic.answeredBy("B");
          assertTrue(traffic.awaitAnswers("B", onBNow + 100, 10_000), traffic.summary());
          onA.closeFinished().get(10, TimeUnit.SECONDS); // the first channel was let go
        } finally {
          traffic.close(); // waits for every call started
        }
        assertEquals(
            List.of(), traffic.failures(), "waitForReady=" + waitForReady + " " + traffic.summary());
        assertTrue(traffic.outcomes().stream().anyMatch(o -> o.kind().equals("bidi-stream")));
      } finally {
        connection.close().get(10, TimeUnit.SECONDS);
      }
      b.shutdownNow();
    }
  }
}
