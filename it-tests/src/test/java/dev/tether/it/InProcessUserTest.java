package dev.tether.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.common.util.concurrent.ListenableFuture;
import dev.tether.Event;
import dev.tether.PersistentConnection;
import dev.tether.grpc.EventQueue;
import io.grpc.CallOptions;
import io.grpc.stub.ClientCalls;
import dev.tether.grpc.Echo;
import dev.tether.grpc.GrpcConnection;
import dev.tether.grpc.GrpcConnector;
import dev.tether.grpc.PersistentChannel;
import dev.tether.testing.grpc.InProcessServer;
import dev.tether.testing.grpc.InProcessServers;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** An in-process integration test written the way a user of tether-testing would write one. */
class InProcessUserTest {
  @RegisterExtension final InProcessServers servers = InProcessServers.create();

  private InProcessServer server;
  private PersistentConnection<String, GrpcConnection<String>> connection;
  private Echo.Stub stub;

  @BeforeEach
  void connect() {
    server = servers.start("greeter", Echo.service("greeter"));
    connection =
        GrpcConnector.persistentConnection("greeter", InProcessServers.channels())
            .addressLookup(server.lookup())
            .retryDelay(Duration.ofMillis(50))
            .build();
    stub = new Echo.Stub(PersistentChannel.of(connection));
  }

  @AfterEach
  void close() throws Exception {
    connection.close().get(10, TimeUnit.SECONDS);
  }

  private Echo.Stub patient() {
    return stub.withWaitForReady().withDeadlineAfter(10, TimeUnit.SECONDS);
  }

  @Test
  void callsRideThroughAServerRestart() {
    assertEquals("greeter: one", patient().say("one"));
    server.kill();
    server.restart();
    assertEquals("greeter: two", patient().say("two"));
  }

  @Test
  void whileTheServerRefuses_failFastCallsSayWhy_andPatientOnesWaitForItsReturn() throws Exception {
    // Subscribed after the channel was made, so the channel has seen each event first.
    EventQueue<String, GrpcConnection<String>> events = new EventQueue<>();
    connection.subscribe(events);
    assertEquals("greeter: one", patient().say("one"));

    server.refuseConnections();
    events.next(Event.FailedToConnect.class, 10);
    StatusRuntimeException refused = assertThrows(StatusRuntimeException.class, () -> stub.say("x"));
    assertEquals(Status.Code.UNAVAILABLE, refused.getStatus().getCode());
    assertTrue(
        String.valueOf(refused.getStatus().getDescription()).contains("Could not find server"),
        refused.toString());

    ListenableFuture<String> waiting =
        ClientCalls.futureUnaryCall(
            stub.getChannel()
                .newCall(
                    Echo.SAY,
                    CallOptions.DEFAULT.withWaitForReady().withDeadlineAfter(10, TimeUnit.SECONDS)),
            "two");
    server.restart();
    assertEquals("greeter: two", waiting.get(10, TimeUnit.SECONDS));
  }
}
