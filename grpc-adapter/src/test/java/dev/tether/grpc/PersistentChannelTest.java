package dev.tether.grpc;

import static com.google.common.util.concurrent.Futures.immediateFuture;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.common.util.concurrent.ListenableFuture;
import dev.tether.ConnectAttemptException;
import dev.tether.PersistentConnection;
import dev.tether.Subscription;
import io.grpc.CallOptions;
import io.grpc.ClientCall;
import io.grpc.Context;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ClientCalls;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** Calls through the following channel while there is no connection. */
class PersistentChannelTest {
  @RegisterExtension final Servers servers = new Servers();
  private final ExecutorService callbacks =
      Executors.newSingleThreadExecutor(task -> new Thread(task, "call-executor"));
  private final EventQueue<String, GrpcConnection<String>> events = new EventQueue<>();
  private final PersistentConnection<String, GrpcConnection<String>> connection =
      GrpcConnector.persistentConnection("echo", ChannelFactory.inProcess())
          .addressLookup(() -> immediateFuture("echo-later"))
          .retryDelay(Duration.ofMillis(50))
          .build();
  private final PersistentChannel channel = PersistentChannel.of(connection);
  // Subscribed after the channel, so the channel has seen each event before the test does.
  private final Subscription subscription = connection.subscribe(events);

  @AfterEach
  void close() throws Exception {
    subscription.close();
    connection.close().get(10, TimeUnit.SECONDS);
    callbacks.shutdownNow();
  }

  /**
   * {@link #connection}, but with the methods named in {@code answers} answered by them, and
   * implementing {@code more} too: a persistent connection that plays a race.
   */
  @SuppressWarnings("unchecked")
  private PersistentConnection<String, GrpcConnection<String>> playedBy(
      java.util.Map<String, java.util.function.Supplier<Object>> answers, Class<?>... more) {
    Class<?>[] faces = new Class<?>[more.length + 1];
    faces[0] = PersistentConnection.class;
    System.arraycopy(more, 0, faces, 1, more.length);
    return (PersistentConnection<String, GrpcConnection<String>>)
        java.lang.reflect.Proxy.newProxyInstance(
            PersistentConnection.class.getClassLoader(),
            faces,
            (proxy, method, args) -> {
              java.util.function.Supplier<Object> answer = answers.get(method.getName());
              if (answer != null) {
                return answer.get();
              }
              try {
                return method.invoke(connection, args);
              } catch (java.lang.reflect.InvocationTargetException e) {
                throw java.util.Objects.requireNonNull(e.getCause());
              }
            });
  }

  /** A wait-for-ready SAY "x" through {@code channel}, with a deadline a minute away. */
  private static ListenableFuture<String> waitingSay(PersistentChannel channel) {
    return ClientCalls.futureUnaryCall(
        channel.newCall(
            Echo.SAY, CallOptions.DEFAULT.withWaitForReady().withDeadlineAfter(60, TimeUnit.SECONDS)),
        "x");
  }

  private static StatusRuntimeException failure(ListenableFuture<?> call) {
    ExecutionException e =
        assertThrows(ExecutionException.class, () -> call.get(10, TimeUnit.SECONDS));
    return (StatusRuntimeException) java.util.Objects.requireNonNull(e.getCause());
  }

  @Test
  void waitForReadyCall_madeBeforeAnyServerExists_completesOnceItStarts() throws Exception {
    ListenableFuture<String> call =
        ClientCalls.futureUnaryCall(
            channel.newCall(
                Echo.SAY, CallOptions.DEFAULT.withWaitForReady().withDeadlineAfter(10, TimeUnit.SECONDS)),
            "early");
    events.next(dev.tether.Event.FailedToConnect.class, 10);
    assertFalse(call.isDone());
    servers.inProcess("echo-later");
    assertEquals("echo-later: early", call.get(10, TimeUnit.SECONDS));
  }

  /** Calls that waited for a connection start on it in the order they began to wait, as gRPC's. */
  @Test
  void waitingCalls_startOnTheNewConnection_inTheOrderTheyWaited() throws Exception {
    Metadata.Key<String> number = Metadata.Key.of("number", Metadata.ASCII_STRING_MARSHALLER);
    java.util.List<String> arrived = java.util.Collections.synchronizedList(new java.util.ArrayList<>());
    java.util.List<CompletableFuture<Status>> calls = new java.util.ArrayList<>();
    for (int i = 0; i < 200; i++) {
      ClientCall<String, String> call =
          channel.newCall(
              Echo.SAY, CallOptions.DEFAULT.withWaitForReady().withDeadlineAfter(60, TimeUnit.SECONDS));
      CompletableFuture<Status> closed = new CompletableFuture<>();
      Metadata headers = new Metadata();
      headers.put(number, String.valueOf(i));
      call.start(
          new ClientCall.Listener<String>() {
            @Override
            public void onClose(Status status, Metadata trailers) {
              closed.complete(status);
            }
          },
          headers);
      call.request(1);
      call.sendMessage("x");
      call.halfClose();
      calls.add(closed);
    }
    events.next(dev.tether.Event.FailedToConnect.class, 10);
    servers.inProcess(
        "echo-later",
        new io.grpc.ServerInterceptor() {
          @Override
          public <Q, R> io.grpc.ServerCall.Listener<Q> interceptCall(
              io.grpc.ServerCall<Q, R> call, Metadata headers, io.grpc.ServerCallHandler<Q, R> next) {
            arrived.add(headers.get(number));
            return next.startCall(call, headers);
          }
        });
    for (CompletableFuture<Status> call : calls) {
      assertEquals(Status.Code.OK, call.get(10, TimeUnit.SECONDS).getCode());
    }
    java.util.List<String> inOrder = new java.util.ArrayList<>();
    for (int i = 0; i < 200; i++) {
      inOrder.add(String.valueOf(i));
    }
    assertEquals(inOrder, arrived);
  }

  @Test
  void failFastCall_withoutAConnection_namesTheServerAndTheLastFailure() throws Exception {
    events.next(dev.tether.Event.FailedToConnect.class, 10);
    StatusRuntimeException e =
        failure(ClientCalls.futureUnaryCall(channel.newCall(Echo.SAY, CallOptions.DEFAULT), "x"));
    assertEquals(Status.Code.UNAVAILABLE, e.getStatus().getCode());
    String description = String.valueOf(e.getStatus().getDescription());
    // What the loop does, then the failure: "no connection to echo: waiting to retry, next
    // attempt in 40 ms; the last attempt failed: connector failed: ..."
    assertTrue(description.startsWith("no connection to echo: "), description);
    assertTrue(description.contains("; the last attempt failed: connector failed:"), description);
    assertTrue(description.contains("Could not find server"), description);
    assertTrue(e.getCause() instanceof ConnectAttemptException, String.valueOf(e.getCause()));
  }

  @Test
  void waitingCall_endsAtItsDeadline() {
    StatusRuntimeException e =
        failure(
            ClientCalls.futureUnaryCall(
                channel.newCall(
                    Echo.SAY,
                    CallOptions.DEFAULT.withWaitForReady().withDeadlineAfter(200, TimeUnit.MILLISECONDS)),
                "x"));
    assertEquals(Status.Code.DEADLINE_EXCEEDED, e.getStatus().getCode());
    assertEquals(
        "deadline exceeded while waiting for a connection to echo", e.getStatus().getDescription());
  }

  @Test
  void waitingCall_endsWhenCancelled_andNeverReachesAServerLater() throws Exception {
    ListenableFuture<String> call =
        ClientCalls.futureUnaryCall(
            channel.newCall(Echo.SAY, CallOptions.DEFAULT.withWaitForReady()), "x");
    assertTrue(call.cancel(true));
    servers.inProcess("echo-later");
    // A later call on the same channel works: the cancelled one left nothing behind.
    assertEquals(
        "echo-later: y",
        ClientCalls.futureUnaryCall(
                channel.newCall(Echo.SAY, CallOptions.DEFAULT.withWaitForReady()), "y")
            .get(10, TimeUnit.SECONDS));
  }

  @Test
  void waitingCall_endsWhenItsContextIsCancelled() throws Exception {
    Context.CancellableContext context = Context.current().withCancellation();
    ListenableFuture<String> call =
        context.call(
            () ->
                ClientCalls.futureUnaryCall(
                    channel.newCall(Echo.SAY, CallOptions.DEFAULT.withWaitForReady()), "x"));
    context.cancel(new IllegalStateException("caller gave up"));
    StatusRuntimeException e = failure(call);
    assertEquals(Status.Code.CANCELLED, e.getStatus().getCode());
  }

  @Test
  void waitingCall_failsWhenThePersistentConnectionCloses() throws Exception {
    ListenableFuture<String> call =
        ClientCalls.futureUnaryCall(
            channel.newCall(Echo.SAY, CallOptions.DEFAULT.withWaitForReady()), "x");
    connection.close().get(10, TimeUnit.SECONDS);
    StatusRuntimeException e = failure(call);
    assertEquals(Status.Code.UNAVAILABLE, e.getStatus().getCode());
    assertEquals("persistent connection to echo is closed", e.getStatus().getDescription());
  }

  /**
   * Waiting calls fail as soon as {@code close()} is called, not when closing finishes (which a
   * draining connection can hold up for its whole shutdown grace): played by a persistent
   * connection whose {@code closeFinished()} never completes.
   */
  @Test
  void waitingCall_failsAtClose_beforeClosingFinishes() throws Exception {
    com.google.common.util.concurrent.SettableFuture<Void> never =
        com.google.common.util.concurrent.SettableFuture.create();
    PersistentConnection<String, GrpcConnection<String>> draining =
        playedBy(java.util.Map.of("closeFinished", () -> never));
    ListenableFuture<String> call = waitingSay(PersistentChannel.of(draining));
    assertFalse(call.isDone(), "no server: it waits");

    connection.close(); // not waited for: closing "never" finishes here
    StatusRuntimeException e = failure(call);
    assertEquals(Status.Code.UNAVAILABLE, e.getStatus().getCode());
    assertEquals("persistent connection to echo is closed", e.getStatus().getDescription());
    assertFalse(never.isDone());
  }

  @Test
  void waitingCall_whoseConnectionComesAfterTheCloseBegan_failsAsClosed() throws Exception {
    java.util.concurrent.atomic.AtomicBoolean closing = new java.util.concurrent.atomic.AtomicBoolean();
    // close() was called, but its CLOSING state has not reached the channel yet.
    PersistentConnection<String, GrpcConnection<String>> closingUnseen =
        playedBy(java.util.Map.of("isClosed", closing::get));
    ListenableFuture<String> call = waitingSay(PersistentChannel.of(closingUnseen));
    assertFalse(call.isDone(), "no server: it waits");

    closing.set(true);
    servers.inProcess("echo-later"); // the next attempt connects: Connected

    StatusRuntimeException e = failure(call);
    assertEquals(Status.Code.UNAVAILABLE, e.getStatus().getCode());
    assertEquals("persistent connection to echo is closed", e.getStatus().getDescription());
  }

  @Test
  void aCallCancelledWhileItsRealCallIsMade_cancelsThatRealCallToo() throws Exception {
    servers.inProcess("echo-later");
    java.util.concurrent.atomic.AtomicReference<ClientCall<String, String>> outer =
        new java.util.concurrent.atomic.AtomicReference<>();
    java.util.List<String> seen = java.util.Collections.synchronizedList(new java.util.ArrayList<>());
    CompletableFuture<Void> realCancelled = new CompletableFuture<>();
    io.grpc.ClientInterceptor cancelling =
        new io.grpc.ClientInterceptor() {
          @Override
          public <Q, R> ClientCall<Q, R> interceptCall(
              io.grpc.MethodDescriptor<Q, R> method, CallOptions options, io.grpc.Channel next) {
            ClientCall<String, String> caller = outer.get();
            if (caller != null) {
              caller.cancel("cancelled while its real call is made", null);
            }
            return new io.grpc.ForwardingClientCall.SimpleForwardingClientCall<Q, R>(
                next.newCall(method, options)) {
              @Override
              public void start(Listener<R> listener, Metadata headers) {
                seen.add("start");
                super.start(listener, headers);
              }

              @Override
              public void cancel(@org.jspecify.annotations.Nullable String message, @org.jspecify.annotations.Nullable Throwable cause) {
                seen.add("cancel: " + message);
                realCancelled.complete(null);
                super.cancel(message, cause);
              }
            };
          }
        };
    PersistentConnection<String, GrpcConnection<String>> intercepted =
        GrpcConnector.builder(ChannelFactory.inProcess())
            .customizer(builder -> builder.intercept(cancelling))
            .build()
            .persistentConnection("echo")
            .addressLookup(() -> immediateFuture("echo-later"))
            .build();
    try {
      intercepted.connected().get(10, TimeUnit.SECONDS);
      ClientCall<String, String> call =
          PersistentChannel.of(intercepted)
              .newCall(Echo.SAY, CallOptions.DEFAULT.withWaitForReady().withDeadlineAfter(10, TimeUnit.SECONDS));
      outer.set(call);
      CompletableFuture<Status> closed = new CompletableFuture<>();
      call.start(
          new ClientCall.Listener<String>() {
            @Override
            public void onClose(Status status, Metadata trailers) {
              closed.complete(status);
            }
          },
          new Metadata());

      assertEquals(Status.Code.CANCELLED, closed.get(10, TimeUnit.SECONDS).getCode());
      realCancelled.get(10, TimeUnit.SECONDS); // the caller's onClose may come first
      assertEquals(java.util.List.of("cancel: the call ended before it started"), seen);
    } finally {
      intercepted.close().get(10, TimeUnit.SECONDS);
    }
  }

  @Test
  void waitingCall_runsItsCallbacksOnTheCallsExecutor() throws Exception {
    CompletableFuture<Thread> closedOn = new CompletableFuture<>();
    ClientCall<String, String> call =
        channel.newCall(
            Echo.SAY,
            CallOptions.DEFAULT
                .withWaitForReady()
                .withExecutor(callbacks)
                .withDeadlineAfter(100, TimeUnit.MILLISECONDS));
    call.start(
        new ClientCall.Listener<String>() {
          @Override
          public void onClose(Status status, Metadata trailers) {
            closedOn.complete(Thread.currentThread());
          }
        },
        new Metadata());
    assertEquals("call-executor", closedOn.get(10, TimeUnit.SECONDS).getName());
  }

  @Test
  void authority_isTheServerName_untilAConnectionExists() throws Exception {
    assertEquals("echo", channel.authority());
    servers.inProcess("echo-later");
    GrpcConnection<String> current = connection.connected().get(10, TimeUnit.SECONDS);
    assertEquals(current.channel().authority(), channel.authority());
    assertSame(current, connection.currentConnection());
  }

  /**
   * A caller that read the current connection and then stalled, while a handover switched to a
   * new one and the old one's server went away, finds the old one not READY: it asks once more,
   * and its fail-fast call goes to the new one instead of failing. Played by a persistent
   * connection whose first answer to {@code currentConnection()} is the old, closed connection;
   * with a handover in flight too, where the call can move and takes only a READY connection.
   */
  @org.junit.jupiter.params.ParameterizedTest(name = "handover in flight: {0}")
  @org.junit.jupiter.params.provider.ValueSource(booleans = {false, true})
  void failFastCall_whoseConnectionWasReplacedBetweenTwoReads_goesToTheNewOne(boolean handover)
      throws Exception {
    servers.inProcess("echo-later");
    servers.inProcess("old");
    GrpcConnection<String> fresh = connection.connected().get(10, TimeUnit.SECONDS);
    GrpcConnection<String> old =
        GrpcConnector.builder(ChannelFactory.inProcess()).build().connect("old").get(10, TimeUnit.SECONDS);
    old.close().get(10, TimeUnit.SECONDS);
    java.util.concurrent.atomic.AtomicInteger reads = new java.util.concurrent.atomic.AtomicInteger();
    java.util.Map<String, java.util.function.Supplier<Object>> answers =
        java.util.Map.of(
            "currentConnection", () -> reads.getAndIncrement() == 0 ? old : fresh,
            "handoverInFlight", () -> true);
    PersistentConnection<String, GrpcConnection<String>> stalled =
        handover
            ? playedBy(answers, dev.tether.internal.Handovers.class)
            : playedBy(answers);
    PersistentChannel following = PersistentChannel.of(stalled);

    io.grpc.ClientCall<String, String> made = following.newCall(Echo.SAY, CallOptions.DEFAULT);
    reads.set(0); // whatever newCall read, start() reads the old connection first, too
    ListenableFuture<String> call = ClientCalls.futureUnaryCall(made, "x");

    assertEquals(handover, made instanceof MovingCall, made.toString());
    assertEquals("echo-later: x", call.get(10, TimeUnit.SECONDS), "the new connection served it");
  }

  /**
   * A caller that read the current connection while it was still READY, just before a handover
   * replaced it and closed it, makes a call that moves: started after the close, it goes to the
   * new connection, where the old channel, shut down, would have refused it.
   */
  @Test
  void failFastCall_whoseReadyConnectionIsReplacedBeforeTheCallIsMade_moves() throws Exception {
    servers.inProcess("echo-later");
    servers.inProcess("old");
    GrpcConnection<String> fresh = connection.connected().get(10, TimeUnit.SECONDS);
    GrpcConnection<String> old =
        GrpcConnector.builder(ChannelFactory.inProcess()).build().connect("old").get(10, TimeUnit.SECONDS);
    java.util.concurrent.atomic.AtomicInteger reads = new java.util.concurrent.atomic.AtomicInteger();
    PersistentConnection<String, GrpcConnection<String>> replaced =
        playedBy(
            java.util.Map.of(
                "currentConnection", () -> reads.getAndIncrement() == 0 ? old : fresh));
    PersistentChannel following = PersistentChannel.of(replaced);

    io.grpc.ClientCall<String, String> made = following.newCall(Echo.SAY, CallOptions.DEFAULT);
    old.close().get(10, TimeUnit.SECONDS); // the handover's step closes it
    ListenableFuture<String> call = ClientCalls.futureUnaryCall(made, "x");

    assertTrue(made instanceof MovingCall, made.toString());
    assertEquals("echo-later: x", call.get(10, TimeUnit.SECONDS), "the new connection served it");
  }
}
