package dev.tether.grpc;

import static com.google.common.util.concurrent.Futures.immediateFuture;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.common.net.HostAndPort;
import dev.tether.Event;
import dev.tether.PersistentConnection;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** Connect, call, drop, reconnect, with stubs built once, against real servers. */
class GrpcReconnectTest {
  @RegisterExtension final Servers servers = new Servers();
  private final List<PersistentConnection<?, ?>> opened = new ArrayList<>();

  @AfterEach
  void closeAll() throws Exception {
    for (PersistentConnection<?, ?> connection : opened) {
      connection.close().get(10, TimeUnit.SECONDS);
    }
  }

  private <A> PersistentConnection<A, GrpcConnection<A>> open(
      PersistentConnection.Builder<A, GrpcConnection<A>> builder, EventQueue<A, GrpcConnection<A>> events) {
    PersistentConnection<A, GrpcConnection<A>> connection =
        builder.retryDelay(Duration.ofMillis(100)).onEvent(events).build();
    opened.add(connection);
    return connection;
  }

  private static Echo.Stub waiting(Echo.Stub stub) {
    return stub.withWaitForReady().withDeadlineAfter(10, TimeUnit.SECONDS);
  }

  @Test
  void inProcess_serverRestartsUnderTheSameName_theSameStubWorksAgain() throws Exception {
    Server server = servers.inProcess("echo-a");
    EventQueue<String, GrpcConnection<String>> events = new EventQueue<>();
    PersistentConnection<String, GrpcConnection<String>> connection =
        open(
            GrpcConnector.persistentConnection("echo", ChannelFactory.inProcess())
                .addressLookup(() -> immediateFuture("echo-a")),
            events);
    Echo.Stub stub = new Echo.Stub(PersistentChannel.of(connection));

    assertEquals("echo-a: hi", waiting(stub).say("hi"));
    GrpcConnection<String> first = connection.connected().get(10, TimeUnit.SECONDS);

    server.shutdownNow();
    events.next(Event.Disconnected.class, 10);
    assertTrue(first.isClosed());
    assertTrue(first.channel().isShutdown(), "a dropped connection shuts its channel down");

    servers.inProcess("echo-a");
    assertEquals("echo-a: again", waiting(stub).say("again"));
    GrpcConnection<String> second = connection.connected().get(10, TimeUnit.SECONDS);
    assertTrue(second != first, "a fresh channel per attempt");
  }

  @Test
  void aDropWhileTheInitializerRuns_isADrop_evenIfACallCouldReconnectTheChannel() throws Exception {
    AtomicReference<Server> server = new AtomicReference<>(servers.inProcess("echo-init"));
    AtomicReference<GrpcConnection<String>> dropped = new AtomicReference<>();
    EventQueue<String, GrpcConnection<String>> events = new EventQueue<>();
    PersistentConnection<String, GrpcConnection<String>> connection =
        open(
            GrpcConnector.persistentConnection("echo", ChannelFactory.inProcess())
                .addressLookup(() -> immediateFuture("echo-init"))
                .initializer(
                    c -> {
                      if (dropped.compareAndSet(null, c)) {
                        // The server goes away and comes back under the same name, then the
                        // initializer calls, which could bring the channel back to READY.
                        java.util.Objects.requireNonNull(server.get())
                            .shutdownNow()
                            .awaitTermination(10, TimeUnit.SECONDS);
                        server.set(servers.inProcess("echo-init"));
                        waiting(new Echo.Stub(c.channel())).say("back");
                      }
                      return immediateFuture(null);
                    }),
            events);

    // The drop counted, though it came before the attempt ended: that connection closed (its
    // initializer's call then failed, or it ended right after Connected), and a later attempt
    // made a fresh channel. Were the drop missed, the first connection would stay current.
    GrpcConnection<String> first;
    GrpcConnection<String> now;
    do {
      Event<String, GrpcConnection<String>> connected = events.next(Event.Connected.class, 10);
      now = ((Event.Connected<String, GrpcConnection<String>>) connected).connection();
      first = java.util.Objects.requireNonNull(dropped.get());
    } while (now == first);
    assertTrue(first.isClosed());
    assertTrue(first.channel().isShutdown());
    assertEquals("echo-init: hi", waiting(new Echo.Stub(now.channel())).say("hi"));
  }

  @Test
  void netty_serverRestartsOnTheSamePort_theSameStubWorksAgain() throws Exception {
    Server server = servers.netty("replica-1", 0);
    int port = Servers.port(server);
    EventQueue<HostAndPort, GrpcConnection<HostAndPort>> events = new EventQueue<>();
    PersistentConnection<HostAndPort, GrpcConnection<HostAndPort>> connection =
        open(
            GrpcConnector.persistentConnection("echo", ChannelFactory.plaintext())
                .addressLookup(() -> immediateFuture(HostAndPort.fromParts("127.0.0.1", port))),
            events);
    Echo.Stub stub = new Echo.Stub(PersistentChannel.of(connection));
    assertEquals("replica-1: hi", waiting(stub).say("hi"));

    server.shutdownNow();
    events.next(Event.Disconnected.class, 10);
    assertNull(connection.currentConnection());
    // While it is down, a fail-fast call fails at once and names the server.
    StatusRuntimeException down = assertThrows(StatusRuntimeException.class, () -> stub.say("x"));
    assertEquals(Status.Code.UNAVAILABLE, down.getStatus().getCode());
    assertTrue(String.valueOf(down.getStatus().getDescription()).contains("echo"), down.toString());

    servers.netty("replica-1-again", port);
    assertEquals("replica-1-again: back", waiting(stub).say("back"));
    events.next(Event.Connected.class, 10);
  }

  @Test
  void twoReplicas_killingTheServingOne_movesCallsToTheOther() throws Exception {
    Server a = servers.netty("a", 0);
    Server b = servers.netty("b", 0);
    AtomicReference<Server> catalog = new AtomicReference<>(a);
    EventQueue<HostAndPort, GrpcConnection<HostAndPort>> events = new EventQueue<>();
    PersistentConnection<HostAndPort, GrpcConnection<HostAndPort>> connection =
        open(
            GrpcConnector.persistentConnection("echo", ChannelFactory.plaintext())
                .addressLookup(
                    () -> immediateFuture(HostAndPort.fromParts("127.0.0.1", Servers.port(java.util.Objects.requireNonNull(catalog.get()))))),
            events);
    Echo.Stub stub = new Echo.Stub(PersistentChannel.of(connection));
    assertEquals("a: 1", waiting(stub).say("1"));

    catalog.set(b);
    a.shutdownNow();
    // A call already on a's transport when it dies fails there, as in gRPC; once the drop is
    // noticed, calls wait for the next connection, which the lookup points at b.
    events.next(Event.Disconnected.class, 10);
    assertEquals("b: 2", waiting(stub).say("2"));
    Event.ObtainedAddress<?, ?> obtained =
        (Event.ObtainedAddress<?, ?>) events.next(Event.ObtainedAddress.class, 10);
    assertEquals(HostAndPort.fromParts("127.0.0.1", Servers.port(b)), obtained.address());
  }

  @Test
  void closingThePersistentConnection_failsWaitingAndNewCalls_andShutsTheChannelDown() throws Exception {
    servers.inProcess("echo-c");
    EventQueue<String, GrpcConnection<String>> events = new EventQueue<>();
    PersistentConnection<String, GrpcConnection<String>> connection =
        open(
            GrpcConnector.persistentConnection("echo", ChannelFactory.inProcess())
                .addressLookup(() -> immediateFuture("echo-c")),
            events);
    Echo.Stub stub = new Echo.Stub(PersistentChannel.of(connection));
    assertEquals("echo-c: hi", waiting(stub).say("hi"));
    GrpcConnection<String> current = connection.connected().get(10, TimeUnit.SECONDS);
    // The call may have been served while the connection was handed to its waiters, before
    // Connected: a close() then would rightly emit neither Connected nor Disconnected.
    events.next(Event.Connected.class, 10);

    connection.close().get(10, TimeUnit.SECONDS);
    assertTrue(current.channel().isTerminated());
    StatusRuntimeException closed =
        assertThrows(StatusRuntimeException.class, () -> waiting(stub).say("late"));
    assertEquals(Status.Code.UNAVAILABLE, closed.getStatus().getCode());
    assertEquals("persistent connection to echo is closed", closed.getStatus().getDescription());
    assertSame(events.all().get(events.all().size() - 1).getClass(), Event.Disconnected.class);
  }

  /** Runs tasks on a pool, or, while paused, holds them until resumed. */
  private static final class PausableExecutor implements java.util.concurrent.Executor {
    private final java.util.concurrent.ExecutorService pool =
        java.util.concurrent.Executors.newCachedThreadPool(
            r -> {
              Thread thread = new Thread(r, "pausable");
              thread.setDaemon(true);
              return thread;
            });
    private final List<Runnable> held = new ArrayList<>();
    private boolean paused;

    synchronized void pause() {
      paused = true;
    }

    void resume() {
      List<Runnable> run;
      synchronized (this) {
        paused = false;
        run = new ArrayList<>(held);
        held.clear();
      }
      run.forEach(pool::execute);
    }

    @Override
    public void execute(Runnable task) {
      synchronized (this) {
        if (paused) {
          held.add(task);
          return;
        }
      }
      pool.execute(task);
    }
  }

  /**
   * A wait-for-ready call made after the current connection's channel left READY, but before the
   * drop was noticed (the channel's executor, which tells, is held here), waits for the next
   * connection: started on the old channel, it would make that channel reconnect to a dead
   * server, or sit there until the drop moved it. With a standby, the next connection is the
   * standby, taken over with no lookup.
   */
  @org.junit.jupiter.params.ParameterizedTest(name = "standby {0}")
  @org.junit.jupiter.params.provider.ValueSource(booleans = {false, true})
  void aWaitForReadyCall_whileTheDropIsNotYetNoticed_waitsForTheNextConnection(boolean standby)
      throws Exception {
    Server a = servers.netty("a", 0);
    Server b = servers.netty("b", 0);
    // Without a standby, the round after the drop looks up b; with one, the standby's lookup
    // (the second) finds b.
    AtomicReference<Server> catalog = new AtomicReference<>(a);
    java.util.concurrent.atomic.AtomicInteger lookups = new java.util.concurrent.atomic.AtomicInteger();
    PausableExecutor executor = new PausableExecutor();
    java.util.Map<String, java.util.concurrent.atomic.AtomicInteger> started =
        new java.util.concurrent.ConcurrentHashMap<>();
    io.grpc.ClientInterceptor counter =
        new io.grpc.ClientInterceptor() {
          @Override
          public <Q, R> io.grpc.ClientCall<Q, R> interceptCall(
              io.grpc.MethodDescriptor<Q, R> method, io.grpc.CallOptions options, io.grpc.Channel next) {
            started.computeIfAbsent(next.authority(), k -> new java.util.concurrent.atomic.AtomicInteger())
                .incrementAndGet();
            return next.newCall(method, options);
          }
        };
    EventQueue<HostAndPort, GrpcConnection<HostAndPort>> events = new EventQueue<>();
    PersistentConnection<HostAndPort, GrpcConnection<HostAndPort>> connection =
        open(
            GrpcConnector.builder(ChannelFactory.plaintext())
                .customizer(builder -> builder.executor(executor).intercept(counter))
                .build()
                .persistentConnection("echo")
                .standby(standby)
                .addressLookup(
                    () -> {
                      Server now =
                          standby && lookups.getAndIncrement() == 1 ? b : catalog.get();
                      return immediateFuture(
                          HostAndPort.fromParts("127.0.0.1", Servers.port(java.util.Objects.requireNonNull(now))));
                    }),
            events);
    PersistentChannel channel = PersistentChannel.of(connection);
    Echo.Stub stub = new Echo.Stub(channel);
    assertEquals("a: 1", waiting(stub).say("1"));
    if (standby) {
      long ready = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
      while (connection.state().standbyAddress() == null) { // its attempt runs in the background
        assertTrue(System.nanoTime() < ready, "no standby");
        Thread.onSpinWait();
      }
    }
    GrpcConnection<HostAndPort> onA = java.util.Objects.requireNonNull(connection.currentConnection());
    String authorityOfA = onA.channel().authority();
    assertEquals(1, java.util.Objects.requireNonNull(started.get(authorityOfA)).get());

    executor.pause(); // the drop goes unnoticed
    catalog.set(b);
    a.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (onA.channel().getState(false) == io.grpc.ConnectivityState.READY) {
      assertTrue(System.nanoTime() < deadline, "the channel to a never left READY");
      Thread.onSpinWait();
    }
    assertSame(onA, connection.currentConnection(), "the drop is not noticed yet");
    java.util.concurrent.Future<String> call = // started here, before the drop is noticed
        io.grpc.stub.ClientCalls.futureUnaryCall(
            channel.newCall(
                Echo.SAY,
                io.grpc.CallOptions.DEFAULT.withWaitForReady().withDeadlineAfter(10, TimeUnit.SECONDS)),
            "2");
    executor.resume();

    assertEquals("b: 2", call.get(10, TimeUnit.SECONDS));
    assertEquals(
        1,
        java.util.Objects.requireNonNull(started.get(authorityOfA)).get(),
        "no call started on a's channel after it left READY");
  }

}
