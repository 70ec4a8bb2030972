package dev.tether.grpc;

import static com.google.common.util.concurrent.Futures.immediateFuture;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.common.net.HostAndPort;
import dev.tether.ConnectAttemptException;
import dev.tether.Event;
import dev.tether.PersistentConnection;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.Socket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** A failed attempt carries the transport's real cause, and its channel is shut down. */
class FailureCausesTest {
  @RegisterExtension final Servers servers = new Servers();
  private final List<AutoCloseable> cleanup = new ArrayList<>();

  @AfterEach
  void cleanUp() throws Exception {
    for (AutoCloseable c : cleanup) {
      c.close();
    }
  }

  /** A port on 127.0.0.1 with nothing listening. */
  static int deadPort() throws IOException {
    try (ServerSocket socket = new ServerSocket(0, 1, Servers.LOOPBACK)) {
      return socket.getLocalPort();
    }
  }

  private static Throwable failure(EventQueue<?, ?> events) throws InterruptedException {
    Event.FailedToConnect<?, ?> failed =
        (Event.FailedToConnect<?, ?>) events.next(Event.FailedToConnect.class, 30);
    return failed.error();
  }

  @Test
  void refusedPort_failsWithConnectionRefused_andShutsTheChannelDown() throws Exception {
    int port = deadPort();
    RecordingFactory<HostAndPort> channels = new RecordingFactory<>(ChannelFactory.plaintext());
    EventQueue<HostAndPort, GrpcConnection<HostAndPort>> events = new EventQueue<>();
    PersistentConnection<HostAndPort, GrpcConnection<HostAndPort>> connection =
        GrpcConnector.persistentConnection("echo", channels)
            .addressLookup(() -> immediateFuture(HostAndPort.fromParts("127.0.0.1", port)))
            .onEvent(events)
            .build();
    cleanup.add(() -> connection.close().get(10, TimeUnit.SECONDS));

    Throwable error = failure(events);
    ConnectAttemptException attempt = assertInstanceOf(ConnectAttemptException.class, error);
    assertEquals(ConnectAttemptException.Stage.CONNECT, attempt.stage());
    assertTrue(String.valueOf(error.getMessage()).contains("Connection refused"), error.getMessage());

    // A fail-fast call through the following channel says the same.
    Echo.Stub stub = new Echo.Stub(PersistentChannel.of(connection));
    StatusRuntimeException call = assertThrows(StatusRuntimeException.class, () -> stub.say("x"));
    assertEquals(Status.Code.UNAVAILABLE, call.getStatus().getCode());
    assertTrue(String.valueOf(call.getStatus().getDescription()).contains("Connection refused"), call.toString());

    ManagedChannel first = channels.created().get(0);
    assertTrue(first.awaitTermination(10, TimeUnit.SECONDS), "the failed attempt's channel");
  }

  @Test
  void silentPeer_failsAfterTheConnectTimeout_namingWhatWasAwaited() throws Exception {
    ServerSocket silent = new ServerSocket(0, 50, Servers.LOOPBACK);
    List<Socket> accepted = new ArrayList<>();
    Thread acceptor =
        new Thread(
            () -> {
              try {
                while (true) {
                  accepted.add(silent.accept()); // accepts, never speaks HTTP/2
                }
              } catch (IOException closed) {
                // the test is over
              }
            },
            "silent-acceptor");
    acceptor.setDaemon(true);
    acceptor.start();
    cleanup.add(
        () -> {
          silent.close();
          for (Socket s : accepted) {
            s.close();
          }
          acceptor.join(10_000);
        });

    RecordingFactory<HostAndPort> channels = new RecordingFactory<>(ChannelFactory.plaintext());
    GrpcConnector<HostAndPort> connector =
        GrpcConnector.builder((ChannelFactory<HostAndPort>) channels)
            .connectTimeout(Duration.ofMillis(500))
            .build();
    ExecutionException e =
        assertThrows(
            ExecutionException.class,
            () ->
                connector
                    .connect(HostAndPort.fromParts("127.0.0.1", silent.getLocalPort()))
                    .get(10, TimeUnit.SECONDS));
    TimeoutException timeout = assertInstanceOf(TimeoutException.class, e.getCause());
    assertTrue(String.valueOf(timeout.getMessage()).contains("READY within the connect timeout of PT0.5S"), timeout.getMessage());
    assertTrue(channels.created().get(0).awaitTermination(10, TimeUnit.SECONDS));
  }

  @Test
  void unknownInProcessName_failsWithTheTransportsWords() throws Exception {
    GrpcConnector<String> connector = GrpcConnector.create(ChannelFactory.inProcess());
    ExecutionException e =
        assertThrows(
            ExecutionException.class,
            () -> connector.connect("nobody-here").get(10, TimeUnit.SECONDS));
    assertTrue(String.valueOf(e.getCause()).contains("Could not find server"), String.valueOf(e.getCause()));
  }

  @Test
  void hostAndPortWithoutAPort_isAnIllegalArgumentNamingIt() {
    GrpcConnector<HostAndPort> connector = GrpcConnector.create(ChannelFactory.plaintext());
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class, () -> connector.connect(HostAndPort.fromHost("localhost")));
    assertEquals("address localhost has no port", e.getMessage());
  }

  @Test
  void cancelledAttempt_shutsItsChannelDown() throws Exception {
    int port = deadPort();
    ServerSocket silent = new ServerSocket(0, 50, Servers.LOOPBACK);
    cleanup.add(silent);
    RecordingFactory<HostAndPort> channels = new RecordingFactory<>(ChannelFactory.plaintext());
    GrpcConnector<HostAndPort> connector = GrpcConnector.create(channels);
    var attempt = connector.connect(HostAndPort.fromParts("127.0.0.1", silent.getLocalPort()));
    assertTrue(attempt.cancel(false));
    assertTrue(channels.created().get(0).awaitTermination(10, TimeUnit.SECONDS));
    assertTrue(port > 0);
  }
}
