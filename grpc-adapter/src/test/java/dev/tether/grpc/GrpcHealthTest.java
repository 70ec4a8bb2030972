package dev.tether.grpc;

import static com.google.common.util.concurrent.Futures.immediateFuture;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tether.ConnectAttemptException;
import dev.tether.ConnectionInitializer;
import dev.tether.Event;
import dev.tether.PersistentConnection;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.ClientInterceptor;
import io.grpc.MethodDescriptor;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.inprocess.InProcessServerBuilder;
import io.grpc.protobuf.services.HealthStatusManager;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** {@link GrpcHealth#check}: a real in-process server with grpc-services' health service. */
class GrpcHealthTest {
  private static final String SERVICE = "dev.tether.Echo";

  @RegisterExtension final Servers servers = new Servers();
  private final List<AutoCloseable> cleanup = new ArrayList<>();
  private final HealthStatusManager health = new HealthStatusManager();
  private final EventQueue<String, GrpcConnection<String>> events = new EventQueue<>();

  @AfterEach
  void cleanUp() throws Exception {
    for (AutoCloseable c : cleanup) {
      c.close();
    }
  }

  /** An in-process server named {@code name} with the echo service and {@code health}. */
  private void serverWithHealth(String name, io.grpc.BindableService healthService) {
    servers.track(
        InProcessServerBuilder.forName(name)
            .directExecutor()
            .addService(Echo.service(name))
            .addService(healthService));
  }

  private PersistentConnection<String, GrpcConnection<String>> connect(
      String name, ConnectionInitializer<GrpcConnection<String>> initializer) {
    return connect(name, initializer, GrpcConnector.builder(ChannelFactory.inProcess()));
  }

  private PersistentConnection<String, GrpcConnection<String>> connect(
      String name,
      ConnectionInitializer<GrpcConnection<String>> initializer,
      GrpcConnector.Builder<String> connector) {
    PersistentConnection<String, GrpcConnection<String>> connection =
        connector
            .build()
            .persistentConnection("echo")
            .addressLookup(() -> immediateFuture(name))
            .initializer(initializer)
            .retryDelay(Duration.ofMillis(50))
            .onEvent(events)
            .build();
    cleanup.add(() -> connection.close().get(10, TimeUnit.SECONDS));
    return connection;
  }

  /** The next attempt's failure: of stage INITIALIZE, its cause's message. */
  private String nextInitializeFailure() throws InterruptedException {
    Event.FailedToConnect<?, ?> failed =
        (Event.FailedToConnect<?, ?>) events.next(Event.FailedToConnect.class, 30);
    ConnectAttemptException error = assertInstanceOf(ConnectAttemptException.class, failed.error());
    assertEquals(ConnectAttemptException.Stage.INITIALIZE, error.stage(), error.toString());
    assertTrue(String.valueOf(error.getMessage()).startsWith("initializer"), error.getMessage());
    IllegalStateException cause = assertInstanceOf(IllegalStateException.class, error.getCause());
    return String.valueOf(cause.getMessage());
  }

  @Test
  void aServingService_letsTheConnectionThrough() throws Exception {
    health.setStatus(SERVICE, ServingStatus.SERVING);
    serverWithHealth("h-serving", health.getHealthService());
    PersistentConnection<String, GrpcConnection<String>> connection =
        connect("h-serving", GrpcHealth.check(SERVICE, Duration.ofSeconds(5)));

    connection.connected().get(10, TimeUnit.SECONDS);
    assertEquals("h-serving: hi", new Echo.Stub(PersistentChannel.of(connection)).say("hi"));
    assertTrue(events.all().stream().noneMatch(e -> e instanceof Event.FailedToConnect), events.all().toString());
  }

  @Test
  void theWholeServer_isAskedAboutWithTheEmptyName() throws Exception {
    serverWithHealth("h-whole", health.getHealthService()); // "" is SERVING from the start
    connect("h-whole", GrpcHealth.check("", Duration.ofSeconds(5))).connected().get(10, TimeUnit.SECONDS);
  }

  @Test
  void notServing_failsTheAttempt_namingServiceAndStatus_untilItServes() throws Exception {
    health.setStatus(SERVICE, ServingStatus.NOT_SERVING);
    serverWithHealth("h-warming", health.getHealthService());
    PersistentConnection<String, GrpcConnection<String>> connection =
        connect("h-warming", GrpcHealth.check(SERVICE, Duration.ofSeconds(5)));

    String message = nextInitializeFailure();
    assertTrue(message.contains("\"" + SERVICE + "\""), message);
    assertTrue(message.contains("NOT_SERVING"), message);
    assertTrue(message.contains("h-warming"), message);
    assertTrue(!connection.connected().isDone(), "not published while not serving");

    health.setStatus(SERVICE, ServingStatus.SERVING);
    connection.connected().get(10, TimeUnit.SECONDS);
  }

  @Test
  void anUnknownService_failsWithNotFound() throws Exception {
    serverWithHealth("h-unknown", health.getHealthService());
    connect("h-unknown", GrpcHealth.check("no.such.Service", Duration.ofSeconds(5)));

    String message = nextInitializeFailure();
    assertTrue(message.contains("\"no.such.Service\""), message);
    assertTrue(message.contains("NOT_FOUND"), message);
  }

  @Test
  void aServerWithoutTheHealthService_failsWithUnimplemented() throws Exception {
    servers.inProcess("h-none");
    connect("h-none", GrpcHealth.check(SERVICE, Duration.ofSeconds(5)));

    String message = nextInitializeFailure();
    assertTrue(message.contains("UNIMPLEMENTED"), message);
  }

  /** A health service that never answers; it records the calls it got and their cancellation. */
  private static final class Silent extends HealthGrpc.HealthImplBase {
    final List<ServerCallStreamObserver<?>> calls = new CopyOnWriteArrayList<>();
    final CountDownLatch received = new CountDownLatch(1);
    final CountDownLatch cancelled = new CountDownLatch(1);

    @Override
    public void check(HealthCheckRequest request, StreamObserver<HealthCheckResponse> response) {
      ServerCallStreamObserver<HealthCheckResponse> call =
          (ServerCallStreamObserver<HealthCheckResponse>) response;
      call.setOnCancelHandler(cancelled::countDown);
      calls.add(call);
      received.countDown();
    }
  }

  @Test
  void noAnswerWithinTheTimeout_failsWithDeadlineExceeded() throws Exception {
    Silent silent = new Silent();
    serverWithHealth("h-silent", silent);
    connect("h-silent", GrpcHealth.check(SERVICE, Duration.ofMillis(100)));

    String message = nextInitializeFailure();
    assertTrue(message.contains("DEADLINE_EXCEEDED"), message);
  }

  @Test
  void closingDuringTheCheck_cancelsTheCall() throws Exception {
    Silent silent = new Silent();
    serverWithHealth("h-hanging", silent);
    PersistentConnection<String, GrpcConnection<String>> connection =
        connect("h-hanging", GrpcHealth.check(SERVICE, Duration.ofMinutes(5)));
    assertTrue(silent.received.await(10, TimeUnit.SECONDS), "the check reached the server");

    connection.close().get(10, TimeUnit.SECONDS);
    assertTrue(silent.cancelled.await(10, TimeUnit.SECONDS), "the check was cancelled");
    assertTrue(events.all().stream().noneMatch(e -> e instanceof Event.Connected), events.all().toString());
  }

  @Test
  void theCheck_goesThroughTheConnectorsInterceptors() throws Exception {
    health.setStatus(SERVICE, ServingStatus.SERVING);
    serverWithHealth("h-intercepted", health.getHealthService());
    List<String> seen = new CopyOnWriteArrayList<>();
    ClientInterceptor recorder =
        new ClientInterceptor() {
          @Override
          public <ReqT, RespT> ClientCall<ReqT, RespT> interceptCall(
              MethodDescriptor<ReqT, RespT> method, CallOptions options, Channel next) {
            seen.add(method.getFullMethodName());
            return next.newCall(method, options);
          }
        };
    connect(
            "h-intercepted",
            GrpcHealth.check(SERVICE, Duration.ofSeconds(5)),
            GrpcConnector.builder(ChannelFactory.inProcess()).customizer(b -> b.intercept(recorder)))
        .connected()
        .get(10, TimeUnit.SECONDS);
    assertEquals(List.of("grpc.health.v1.Health/Check"), seen);
  }

  @Test
  @SuppressWarnings("NullAway")
  void badArguments_failAtOnce_namingThem() {
    NullPointerException noService =
        assertThrows(NullPointerException.class, () -> GrpcHealth.check(null, Duration.ofSeconds(1)));
    assertEquals("service", noService.getMessage());
    NullPointerException noTimeout =
        assertThrows(NullPointerException.class, () -> GrpcHealth.check(SERVICE, null));
    assertEquals("timeout", noTimeout.getMessage());
    for (Duration bad : List.of(Duration.ZERO, Duration.ofMillis(-1))) {
      IllegalArgumentException e =
          assertThrows(IllegalArgumentException.class, () -> GrpcHealth.check(SERVICE, bad));
      assertTrue(String.valueOf(e.getMessage()).startsWith("timeout"), e.getMessage());
    }
  }

  @Test
  void aCheckThatIsCancelled_cancelsItsCall() throws Exception {
    Silent silent = new Silent();
    serverWithHealth("h-cancel", silent);
    GrpcConnector<String> connector = GrpcConnector.create(ChannelFactory.inProcess());
    GrpcConnection<String> connection = connector.connect("h-cancel").get(10, TimeUnit.SECONDS);
    cleanup.add(() -> connection.close().get(10, TimeUnit.SECONDS));

    var check = GrpcHealth.<String>check(SERVICE, Duration.ofMinutes(5)).initialize(connection);
    assertTrue(silent.received.await(10, TimeUnit.SECONDS), "the check reached the server");
    check.cancel(false);
    assertTrue(silent.cancelled.await(10, TimeUnit.SECONDS), "the call was cancelled");
  }
}
