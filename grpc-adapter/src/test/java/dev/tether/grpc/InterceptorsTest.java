package dev.tether.grpc;

import static com.google.common.util.concurrent.Futures.immediateFuture;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.common.net.HostAndPort;
import dev.tether.PersistentConnection;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.ClientInterceptor;
import io.grpc.ManagedChannel;
import io.grpc.MethodDescriptor;
import io.grpc.inprocess.InProcessChannelBuilder;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Interceptors that customizers add see users' calls, in the order gRPC's builder would run them,
 * and never the connector's connect probe.
 */
class InterceptorsTest {
  @RegisterExtension final Servers servers = new Servers();

  /** Notes every call it sees in a shared log, under its name. */
  private static final class Noting implements ClientInterceptor {
    private final String name;
    private final List<String> log;

    Noting(String name, List<String> log) {
      this.name = name;
      this.log = log;
    }

    @Override
    public <ReqT, RespT> ClientCall<ReqT, RespT> interceptCall(
        MethodDescriptor<ReqT, RespT> method, CallOptions options, Channel next) {
      synchronized (log) {
        log.add(name + " " + method.getFullMethodName());
      }
      return next.newCall(method, options);
    }
  }

  private static List<String> copy(List<String> log) {
    synchronized (log) {
      return List.copyOf(log);
    }
  }

  @Test
  void aFailedAttempt_neverReachesTheInterceptors_yetKnowsItsCause() throws Exception {
    List<String> log = new ArrayList<>();
    GrpcConnector<HostAndPort> connector =
        GrpcConnector.builder(ChannelFactory.plaintext())
            .customizer(builder -> builder.intercept(new Noting("counting", log)))
            .build();
    int port = FailureCausesTest.deadPort();

    ExecutionException failed =
        assertThrows(
            ExecutionException.class,
            () -> connector.connect(HostAndPort.fromParts("127.0.0.1", port)).get(10, TimeUnit.SECONDS));

    assertTrue(
        String.valueOf(failed.getCause()).contains("Connection refused"),
        "the probe still finds the cause: " + failed.getCause());
    assertEquals(List.of(), copy(log), "the connect probe went through a user's interceptor");
  }

  @Test
  void callsOnTheConnectionsChannel_goThroughTheInterceptors_inTheOrderGrpcRunsThem()
      throws Exception {
    servers.inProcess("intercepted");
    List<String> log = new ArrayList<>();
    GrpcConnector<String> connector =
        GrpcConnector.builder(ChannelFactory.inProcess())
            .customizer(
                builder -> builder.intercept(new Noting("a", log)).intercept(new Noting("b", log)))
            .customizer(builder -> builder.intercept(List.of(new Noting("c", log))))
            .build();
    GrpcConnection<String> connection = connector.connect("intercepted").get(10, TimeUnit.SECONDS);
    try {
      assertEquals("intercepted: x", new Echo.Stub(connection.channel()).say("x"));
      List<String> ours = copy(log);

      // gRPC's own builder with the same interceptors added the same way.
      List<String> grpcLog = new ArrayList<>();
      ManagedChannel plain =
          InProcessChannelBuilder.forName("intercepted")
              .intercept(new Noting("a", grpcLog))
              .intercept(new Noting("b", grpcLog))
              .intercept(List.of(new Noting("c", grpcLog)))
              .build();
      try {
        assertEquals("intercepted: y", new Echo.Stub(plain).say("y"));
      } finally {
        plain.shutdownNow();
      }
      assertEquals(copy(grpcLog), ours);
      assertEquals(
          List.of("c tether.test.Echo/Say", "b tether.test.Echo/Say", "a tether.test.Echo/Say"),
          ours);
    } finally {
      connection.close().get(10, TimeUnit.SECONDS);
    }
    // Shutting down and termination are the raw channel's, seen through the one handed out.
    assertTrue(connection.channel().isShutdown());
    assertTrue(connection.channel().isTerminated());
  }

  @Test
  void callsThroughThePersistentChannel_goThroughTheInterceptors() throws Exception {
    servers.inProcess("followed");
    List<String> log = new ArrayList<>();
    PersistentConnection<String, GrpcConnection<String>> connection =
        GrpcConnector.builder(ChannelFactory.inProcess())
            .customizer(builder -> builder.intercept(new Noting("counting", log)))
            .build()
            .persistentConnection("followed")
            .addressLookup(() -> immediateFuture("followed"))
            .build();
    try {
      GrpcConnection<String> current = connection.connected().get(10, TimeUnit.SECONDS);
      assertEquals(
          "followed: z",
          new Echo.Stub(PersistentChannel.of(connection)).withWaitForReady().say("z"));
      assertEquals(List.of("counting tether.test.Echo/Say"), copy(log));
      assertSame(current.channel(), current.channel(), "one channel per connection");
    } finally {
      connection.close().get(10, TimeUnit.SECONDS);
    }
  }

  @Test
  void aCustomizerThatBuilds_failsTheAttempt_buildingNothing() {
    GrpcConnector<String> connector =
        GrpcConnector.builder(ChannelFactory.inProcess())
            .customizer(builder -> builder.build())
            .build();
    UnsupportedOperationException e =
        assertThrows(UnsupportedOperationException.class, () -> connector.connect("nowhere"));
    assertTrue(String.valueOf(e.getMessage()).contains("the connector builds the channel"));
  }
}
