package dev.tether.grpc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static java.util.Objects.requireNonNull;

import com.google.common.net.HostAndPort;
import com.google.common.util.concurrent.ListenableFuture;
import com.google.common.util.concurrent.SettableFuture;
import io.grpc.CallOptions;
import io.grpc.ConnectivityState;
import io.grpc.ManagedChannel;
import io.grpc.InsecureChannelCredentials;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.stub.ClientCalls;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** What a GrpcConnection does with its channel when it drops or is closed. */
class GrpcConnectionTest {
  @RegisterExtension final Servers servers = new Servers();

  @BeforeEach
  void closeTheGate() {
    Echo.gate = new CompletableFuture<>();
  }

  @AfterEach
  void openTheGate() {
    Echo.gate.complete(null); // lets the server's pending slow calls end
  }

  private static ListenableFuture<String> slowCall(GrpcConnection<?> connection) {
    return ClientCalls.futureUnaryCall(
        connection.channel().newCall(Echo.SLOW, CallOptions.DEFAULT), "call");
  }

  @Test
  void drop_finishesClosingAtOnce_whileARunningCallMayStillFinish() throws Exception {
    Server server = servers.inProcess("draining");
    GrpcConnection<String> connection =
        GrpcConnector.create(ChannelFactory.inProcess()).connect("draining").get(10, TimeUnit.SECONDS);
    ListenableFuture<String> running = slowCall(connection);

    server.shutdown(); // graceful: the running call may finish, the transport goes away
    connection.closeFinished().get(10, TimeUnit.SECONDS);
    assertTrue(connection.isClosed());
    assertFalse(connection.isReady());
    assertFalse(running.isDone(), "closeFinished() did not wait for the running call");

    Echo.gate.complete(null);
    assertEquals("draining: slow call", running.get(10, TimeUnit.SECONDS));
    assertTrue(connection.channel().awaitTermination(10, TimeUnit.SECONDS));
  }

  @Test
  void close_waitsForTermination_andForcesTheChannelDownAfterTheGrace() throws Exception {
    servers.inProcess("stuck");
    GrpcConnection<String> connection =
        GrpcConnector.builder(ChannelFactory.inProcess())
            .shutdownGrace(Duration.ofMillis(200))
            .build()
            .connect("stuck")
            .get(10, TimeUnit.SECONDS);
    ListenableFuture<String> stuck = slowCall(connection); // the server never answers

    ListenableFuture<Void> closing = connection.close();
    assertTrue(connection.isClosed());
    // Whatever real time passes here, close() completes only once the channel, forced down
    // after the grace, has terminated: the running call with it (the grace itself is timed in
    // virtual time in the next test).
    java.util.concurrent.CompletableFuture<Boolean> terminatedFirst =
        new java.util.concurrent.CompletableFuture<>();
    closing.addListener(
        () -> terminatedFirst.complete(connection.channel().isTerminated()),
        com.google.common.util.concurrent.MoreExecutors.directExecutor());
    closing.get(10, TimeUnit.SECONDS);
    assertTrue(terminatedFirst.get(10, TimeUnit.SECONDS), "close() completed before the channel ended");
    ExecutionException e = assertThrows(ExecutionException.class, () -> stuck.get(10, TimeUnit.SECONDS));
    assertEquals(Status.Code.UNAVAILABLE, Status.fromThrowable(e.getCause()).getCode());
    assertEquals(closing, connection.close(), "close() is idempotent");
  }

  @Test
  void theShutdownGrace_isTimedOnTheConnectorsScheduler() throws Exception {
    servers.inProcess("stuck-in-virtual-time");
    GrpcConnection<String> connection =
        GrpcConnector.builder(ChannelFactory.inProcess())
            .scheduler(time)
            .shutdownGrace(Duration.ofSeconds(30))
            .build()
            .connect("stuck-in-virtual-time")
            .get(10, TimeUnit.SECONDS);
    ListenableFuture<String> stuck = slowCall(connection); // the server never answers

    ListenableFuture<Void> closing = connection.close();
    time.advance(Duration.ofSeconds(29));
    assertFalse(stuck.isDone(), "forced before the grace passed");
    assertFalse(closing.isDone());

    time.advance(Duration.ofSeconds(1)); // no real time passes: only the scheduler's clock
    ExecutionException e = assertThrows(ExecutionException.class, () -> stuck.get(10, TimeUnit.SECONDS));
    assertEquals(Status.Code.UNAVAILABLE, Status.fromThrowable(e.getCause()).getCode());
    assertTrue(connection.channel().awaitTermination(10, TimeUnit.SECONDS));
    time.advance(Duration.ofMillis(10)); // the next look at the channel sees it terminated
    assertTrue(closing.isDone());
  }

  private final dev.tether.testing.VirtualTimeScheduler time =
      dev.tether.testing.VirtualTimeScheduler.create();

  /** A connection to a new in-process server {@code name}, its timers on {@link #time}. */
  private GrpcConnection<String> connectInVirtualTime(String name) throws Exception {
    servers.inProcess(name);
    return GrpcConnector.builder(ChannelFactory.inProcess())
        .scheduler(time)
        .build()
        .connect(name)
        .get(10, TimeUnit.SECONDS);
  }

  @Test
  void retire_closesForNewCallsAtOnce_andShutsTheChannelDownAfterAGraceOnTheScheduler()
      throws Exception {
    GrpcConnection<String> connection = connectInVirtualTime("retired");
    java.util.concurrent.CountDownLatch told = new java.util.concurrent.CountDownLatch(1);
    connection.addCloseWatcher(told::countDown);

    ListenableFuture<Void> retiring = connection.retire();
    assertTrue(connection.isClosed());
    assertFalse(connection.isReady());
    assertTrue(told.await(10, TimeUnit.SECONDS), "its watchers are told at once");
    // A call that picked it just before still starts, and is served.
    assertEquals(
        "retired: late",
        ClientCalls.futureUnaryCall(connection.channel().newCall(Echo.SAY, CallOptions.DEFAULT), "late")
            .get(10, TimeUnit.SECONDS));
    time.advance(Duration.ofMillis(999));
    assertFalse(connection.channel().isShutdown());

    time.advance(Duration.ofMillis(1));
    assertTrue(connection.channel().isShutdown());
    assertTrue(connection.channel().awaitTermination(10, TimeUnit.SECONDS));
    time.advance(Duration.ofMillis(10));
    assertTrue(retiring.isDone());
    assertEquals(retiring, connection.close());
  }

  @Test
  void close_duringARetirement_shutsTheChannelDownAtOnce() throws Exception {
    GrpcConnection<String> connection = connectInVirtualTime("retired-then-closed");
    ListenableFuture<Void> retiring = connection.retire();
    assertFalse(connection.channel().isShutdown());

    assertEquals(retiring, connection.close());
    assertTrue(connection.channel().isShutdown());
    assertTrue(connection.channel().awaitTermination(10, TimeUnit.SECONDS));
    time.advance(Duration.ofMillis(10));
    assertTrue(retiring.isDone());
  }

  @Test
  void idleModeStaysOff_evenWhenACustomizerTurnsItOn() throws Exception {
    servers.inProcess("idle");
    GrpcConnection<String> connection =
        GrpcConnector.builder(ChannelFactory.inProcess())
            .customizer(builder -> builder.idleTimeout(1, TimeUnit.SECONDS))
            .build()
            .connect("idle")
            .get(10, TimeUnit.SECONDS);
    try {
      // With a 1 s idle timeout the channel would go IDLE, which looks exactly like a drop.
      assertThrows(
          java.util.concurrent.TimeoutException.class,
          () -> connection.closeFinished().get(2500, TimeUnit.MILLISECONDS));
      assertTrue(connection.isReady());
    } finally {
      connection.close().get(10, TimeUnit.SECONDS);
    }
  }

  @Test
  void socketAddressAndTargetFactories_connect() throws Exception {
    Server server = servers.netty("n", 0);
    int port = Servers.port(server);
    GrpcConnection<InetSocketAddress> bySocket =
        GrpcConnector.create(ChannelFactory.socketAddress(InsecureChannelCredentials.create()))
            .connect(new InetSocketAddress(Servers.LOOPBACK, port))
            .get(10, TimeUnit.SECONDS);
    GrpcConnection<String> byTarget =
        GrpcConnector.create(ChannelFactory.target(InsecureChannelCredentials.create()))
            .connect("dns:///127.0.0.1:" + port)
            .get(10, TimeUnit.SECONDS);
    try {
      assertEquals("n: a", new Echo.Stub(bySocket.channel()).say("a"));
      assertEquals("n: b", new Echo.Stub(byTarget.channel()).say("b"));
      assertEquals("dns:///127.0.0.1:" + port, byTarget.address());
    } finally {
      bySocket.close().get(10, TimeUnit.SECONDS);
      byTarget.close().get(10, TimeUnit.SECONDS);
    }
  }

  @Test
  void builderArguments_areCheckedAtOnce_namingThem() {
    GrpcConnector.Builder<HostAndPort> builder = GrpcConnector.builder(ChannelFactory.plaintext());
    assertEquals(
        "connectTimeout must be positive: PT0S",
        assertThrows(IllegalArgumentException.class, () -> builder.connectTimeout(Duration.ZERO))
            .getMessage());
    assertEquals(
        "shutdownGrace must not be negative: PT-1S",
        assertThrows(IllegalArgumentException.class, () -> builder.shutdownGrace(Duration.ofSeconds(-1)))
            .getMessage());
    assertEquals(
        "keepAlive time must be positive: PT0S",
        assertThrows(
                IllegalArgumentException.class,
                () -> builder.keepAlive(Duration.ZERO, Duration.ofSeconds(1), false))
            .getMessage());
    builder.connectTimeout(Duration.ofSeconds(1));
    assertEquals(
        "connectTimeout was already set",
        assertThrows(IllegalStateException.class, () -> builder.connectTimeout(Duration.ofSeconds(2)))
            .getMessage());
  }

  /**
   * A channel that keeps the callback the connection arms to watch READY, so that the test can
   * run it when it likes: as gRPC would after a READY -> IDLE -> CONNECTING -> READY blip that
   * ended before the callback ran.
   */
  private static final class Blipping extends ForwardingManagedChannel {
    final SettableFuture<Runnable> watcher = SettableFuture.create();

    Blipping(ManagedChannel delegate) {
      super(delegate);
    }

    @Override
    public void notifyWhenStateChanged(ConnectivityState source, Runnable callback) {
      if (source == ConnectivityState.READY && watcher.set(callback)) {
        return;
      }
      super.notifyWhenStateChanged(source, callback);
    }
  }

  @Test
  void aBlipOutOfReadyAndBack_betweenTwoLooks_isADrop() throws Exception {
    servers.inProcess("blip");
    RecordingFactory<String> channels = new RecordingFactory<>(ChannelFactory.inProcess(), Blipping::new);
    GrpcConnection<String> connection =
        GrpcConnector.create(channels).connect("blip").get(10, TimeUnit.SECONDS);
    Blipping channel = (Blipping) channels.created().get(0);
    Runnable watcher = requireNonNull(channel.watcher.get(10, TimeUnit.SECONDS));
    assertEquals(ConnectivityState.READY, channel.getState(false));
    assertFalse(connection.isClosed());

    watcher.run(); // the channel left READY and is READY again: its transport is a new one

    assertTrue(connection.isClosed(), "the blip was not taken for a drop");
    assertTrue(connection.closeFinished().isDone());
    assertTrue(channel.isShutdown());
    assertTrue(channel.awaitTermination(10, TimeUnit.SECONDS));
  }
}
