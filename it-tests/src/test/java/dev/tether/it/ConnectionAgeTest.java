package dev.tether.it;

import static com.google.common.util.concurrent.Futures.immediateFuture;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.common.net.HostAndPort;
import dev.tether.Event;
import dev.tether.PersistentConnection;
import dev.tether.grpc.ChannelFactory;
import dev.tether.grpc.Echo;
import dev.tether.grpc.GrpcConnection;
import dev.tether.grpc.GrpcConnector;
import dev.tether.grpc.PersistentChannel;
import io.grpc.InsecureServerCredentials;
import io.grpc.Server;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * A server that limits the age of its connections ({@code maxConnectionAge}, common behind load
 * balancers) ends each one with a GOAWAY: to the persistent connection that is a drop, and the
 * next connection follows at once. Wait-for-ready traffic, unary and flow-controlled streams,
 * runs across many such ends.
 *
 * <p>A call that started on the old channel just before the drop was noticed (that channel, left
 * IDLE by the GOAWAY, reconnects for it) either moves, unsent, or, if the old channel's new
 * transport took its stream first, runs there: no call fails.
 */
class ConnectionAgeTest {
  private static final long DEADLINE_MS = 5_000;
  private static final int GOAWAYS = 8;

  @Test
  void serverEndsEveryConnectionAfterAnAge_waitForReadyTrafficLosesNoCall() throws Exception {
    Server server =
        NettyServerBuilder.forAddress(
                new InetSocketAddress(InetAddress.getByAddress(new byte[] {127, 0, 0, 1}), 0),
                InsecureServerCredentials.create())
            .addService(Echo.service("aged"))
            .maxConnectionAge(1, TimeUnit.SECONDS) // the least grpc-java allows (it raises less to 1 s)
            .maxConnectionAgeGrace(5, TimeUnit.SECONDS) // calls in flight finish
            .build()
            .start();
    HostAndPort address = HostAndPort.fromParts("127.0.0.1", server.getPort());
    Semaphore disconnects = new Semaphore(0);
    PersistentConnection<HostAndPort, GrpcConnection<HostAndPort>> connection =
        GrpcConnector.persistentConnection("aged", ChannelFactory.plaintext())
            .addressLookup(() -> immediateFuture(address))
            .retryDelay(Duration.ofMillis(100))
            .onEvent(
                event -> {
                  if (event instanceof Event.Disconnected) {
                    disconnects.release();
                  }
                })
            .build();
    PersistentChannel channel = PersistentChannel.of(connection);
    try {
      Traffic traffic = Traffic.waitForReady(channel, DEADLINE_MS, 4, 2);
      try {
        assertTrue(
            disconnects.tryAcquire(GOAWAYS, 30, TimeUnit.SECONDS),
            "connections ended by age: " + disconnects.availablePermits());
        long answered = traffic.answeredBy("aged");
        assertTrue(traffic.awaitAnswers("aged", answered + 100, 10_000), traffic.summary());
      } finally {
        traffic.close();
      }
      assertEquals(List.of(), traffic.failures(), traffic.summary());
      assertTrue(traffic.outcomes().stream().anyMatch(o -> o.kind().equals("bidi-stream")));
      assertEquals(
          "aged: after",
          new Echo.Stub(channel)
              .withWaitForReady()
              .withDeadlineAfter(10, TimeUnit.SECONDS)
              .say("after"));
    } finally {
      connection.close().get(10, TimeUnit.SECONDS);
      server.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    }
  }
}
