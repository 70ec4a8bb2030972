package dev.tether.grpc;

import static com.google.common.util.concurrent.Futures.immediateFuture;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.common.net.HostAndPort;
import dev.tether.Event;
import dev.tether.PersistentConnection;
import io.grpc.ChannelCredentials;
import io.grpc.Server;
import io.grpc.ServerCredentials;
import io.grpc.TlsChannelCredentials;
import io.grpc.TlsServerCredentials;
import io.grpc.testing.TlsTesting;
import java.io.IOException;
import java.time.Duration;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** TLS and mutual TLS with grpc-testing's certificates, and a trust root that does not match. */
class TlsTest {
  @RegisterExtension final Servers servers = new Servers();

  private static ServerCredentials serverTls(boolean requireClientCertificate) throws IOException {
    TlsServerCredentials.Builder builder =
        TlsServerCredentials.newBuilder()
            .keyManager(TlsTesting.loadCert("server1.pem"), TlsTesting.loadCert("server1.key"));
    if (requireClientCertificate) {
      builder
          .trustManager(TlsTesting.loadCert("ca.pem"))
          .clientAuth(TlsServerCredentials.ClientAuth.REQUIRE);
    }
    return builder.build();
  }

  private PersistentConnection<HostAndPort, GrpcConnection<HostAndPort>> connect(
      Server server, ChannelCredentials credentials, EventQueue<HostAndPort, GrpcConnection<HostAndPort>> events, AtomicInteger lookups) {
    int port = Servers.port(server);
    return GrpcConnector.builder(ChannelFactory.netty(credentials))
        .customizer(builder -> builder.overrideAuthority("foo.test.google.fr")) // server1's name
        .build()
        .persistentConnection("secure-echo")
        .addressLookup(
            () -> {
              lookups.incrementAndGet();
              return immediateFuture(HostAndPort.fromParts("127.0.0.1", port));
            })
        .retryDelay(Duration.ofMillis(100))
        .onEvent(events)
        .build();
  }

  private void callsThrough(ServerCredentials serverCredentials, ChannelCredentials clientCredentials)
      throws Exception {
    Server server = servers.netty("tls", 0, serverCredentials, UnaryOperator.identity());
    PersistentConnection<HostAndPort, GrpcConnection<HostAndPort>> connection =
        connect(server, clientCredentials, new EventQueue<>(), new AtomicInteger());
    try {
      Echo.Stub stub =
          new Echo.Stub(PersistentChannel.of(connection))
              .withWaitForReady()
              .withDeadlineAfter(10, TimeUnit.SECONDS);
      assertEquals("tls: hello", stub.say("hello"));
    } finally {
      connection.close().get(10, TimeUnit.SECONDS);
    }
  }

  @Test
  void tls_withTheTestCa_connectsAndCalls() throws Exception {
    callsThrough(
        serverTls(false),
        TlsChannelCredentials.newBuilder().trustManager(TlsTesting.loadCert("ca.pem")).build());
  }

  @Test
  void mutualTls_withAClientCertificate_connectsAndCalls() throws Exception {
    callsThrough(
        serverTls(true),
        TlsChannelCredentials.newBuilder()
            .trustManager(TlsTesting.loadCert("ca.pem"))
            .keyManager(TlsTesting.loadCert("client.pem"), TlsTesting.loadCert("client.key"))
            .build());
  }

  @Test
  void wrongTrustRoot_failsWithAHandshakeCause_andKeepsRetrying() throws Exception {
    Server server = servers.netty("tls", 0, serverTls(false), UnaryOperator.identity());
    EventQueue<HostAndPort, GrpcConnection<HostAndPort>> events = new EventQueue<>();
    AtomicInteger lookups = new AtomicInteger();
    // The JDK's own trust store does not know grpc-testing's CA.
    PersistentConnection<HostAndPort, GrpcConnection<HostAndPort>> connection =
        connect(server, TlsChannelCredentials.create(), events, lookups);
    try {
      Event.FailedToConnect<?, ?> failed =
          (Event.FailedToConnect<?, ?>) events.next(Event.FailedToConnect.class, 20);
      String text = String.valueOf(failed.error().getMessage());
      assertTrue(text.contains("SSLHandshakeException"), text);
      // The same failure is not reported again, but the attempts go on: each of these waits
      // for the outcome of a later attempt.
      for (int i = 0; i < 2; i++) {
        ExecutionException next =
            assertThrows(
                ExecutionException.class,
                () -> connection.connectedOrFailedToConnect().get(20, TimeUnit.SECONDS));
        assertTrue(String.valueOf(next.getCause()).contains("SSLHandshakeException"));
      }
      assertTrue(lookups.get() >= 3, "attempts: " + lookups.get());
    } finally {
      connection.close().get(10, TimeUnit.SECONDS);
    }
  }
}
