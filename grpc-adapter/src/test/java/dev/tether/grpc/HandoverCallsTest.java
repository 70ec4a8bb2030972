package dev.tether.grpc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.common.net.HostAndPort;
import com.google.common.util.concurrent.ListenableFuture;
import com.google.common.util.concurrent.SettableFuture;
import dev.tether.PersistentConnection;
import com.google.common.util.concurrent.Futures;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.ClientInterceptor;
import io.grpc.MethodDescriptor;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import org.jspecify.annotations.Nullable;
import io.grpc.InsecureServerCredentials;
import io.grpc.Metadata;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.stub.ClientCalls;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.RepeatedTest;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Fail-fast calls made while a handover is in flight: one that its connection never sent, whose
 * server goes away after the switch, moves to the new connection, as gRPC's transparent retry
 * moves it to another address of the same channel; with no ready connection to move to, it fails
 * at once, as a fail-fast call does. A replica that allows one call at a time keeps a second call
 * unsent in the client's transport for as long as the first one runs.
 */
class HandoverCallsTest {
  @RegisterExtension final Servers servers = new Servers();
  /** The first lookup's answer: the connection starts looking up at once. */
  private final SettableFuture<HostAndPort> first = SettableFuture.create();
  /** What the next lookup answers. */
  private final AtomicReference<ListenableFuture<HostAndPort>> next = new AtomicReference<>(first);
  private final Holder holder = new Holder();
  private final PersistentConnection<HostAndPort, GrpcConnection<HostAndPort>> connection =
      GrpcConnector.builder(ChannelFactory.plaintext())
          .shutdownGrace(Duration.ofMillis(500))
          .customizer(b -> b.intercept(holder))
          .build()
          .persistentConnection("replicas")
          .addressLookup(() -> java.util.Objects.requireNonNull(next.get()))
          .retryDelay(Duration.ofSeconds(5))
          .build();
  private final PersistentChannel channel = PersistentChannel.of(connection);

  @AfterEach
  void close() throws Exception {
    connection.close().get(10, TimeUnit.SECONDS);
  }

  /** The SAY calls that each replica received, by replica. */
  private final java.util.Map<String, java.util.concurrent.atomic.AtomicInteger> said =
      new java.util.concurrent.ConcurrentHashMap<>();

  private Server oneCallAtATime(String id) {
    ServerInterceptor counter =
        new ServerInterceptor() {
          @Override
          public <Q, R> ServerCall.Listener<Q> interceptCall(
              ServerCall<Q, R> call, Metadata headers, ServerCallHandler<Q, R> next) {
            if (call.getMethodDescriptor().getFullMethodName().equals(Echo.SAY.getFullMethodName())) {
              said.computeIfAbsent(id, k -> new java.util.concurrent.atomic.AtomicInteger())
                  .incrementAndGet();
            }
            return next.startCall(call, headers);
          }
        };
    return servers.netty(
        id,
        0,
        InsecureServerCredentials.create(),
        b -> b.maxConcurrentCallsPerConnection(1).intercept(counter));
  }

  private int said(String id) {
    java.util.concurrent.atomic.AtomicInteger count = said.get(id);
    return count == null ? 0 : count.get();
  }

  /**
   * Holds the calls made on one connection's channel (by its authority) in the client, unsent,
   * until the test ends each with a status of its choosing.
   */
  private static final class Holder implements ClientInterceptor {
    private volatile @Nullable String authority;
    /** Held calls act as if a transport took and wrote their stream just before a cancel. */
    volatile boolean writtenOnCancel;
    /** Held calls end only when the test finishes their cancel ({@link Held#finishCancel}). */
    volatile boolean slowCancel;
    private volatile @Nullable Held<?> last;
    /** Run once, just before the next cancel of a call that is not held reaches its real call. */
    volatile @Nullable Runnable beforeCancel;
    /** The call credentials of the calls this interceptor saw. */
    final java.util.Set<io.grpc.CallCredentials> credentialsSeen =
        java.util.concurrent.ConcurrentHashMap.newKeySet();
    private final java.util.concurrent.BlockingQueue<Held<?>> held =
        new java.util.concurrent.LinkedBlockingQueue<>();

    void hold(HostAndPort address) {
      authority = address.toString();
    }

    void release() {
      authority = null;
    }

    /** The latest held call. */
    Held<?> last() {
      return java.util.Objects.requireNonNull(last);
    }

    /** Ends the next held call with {@code status}. */
    void end(Status status) throws Exception {
      Held<?> call = java.util.Objects.requireNonNull(held.poll(10, TimeUnit.SECONDS));
      call.end(status);
    }

    @Override
    public <Q, R> ClientCall<Q, R> interceptCall(
        MethodDescriptor<Q, R> method, CallOptions options, Channel next) {
      io.grpc.CallCredentials credentials = options.getCredentials();
      if (credentials != null) {
        credentialsSeen.add(credentials);
      }
      if (next.authority().equals(authority)) {
        Held<R> call = new Held<>(writtenOnCancel ? options : null, slowCancel);
        held.add(call);
        last = call;
        @SuppressWarnings("unchecked") // sends nothing, so the request type does not matter
        ClientCall<Q, R> asCall = (ClientCall<Q, R>) call;
        return asCall;
      }
      return new io.grpc.ForwardingClientCall.SimpleForwardingClientCall<Q, R>(
          next.newCall(method, options)) {
        @Override
        public void cancel(@Nullable String message, @Nullable Throwable cause) {
          Runnable hook = beforeCancel;
          if (hook != null) {
            beforeCancel = null;
            hook.run();
          }
          super.cancel(message, cause);
        }
      };
    }
  }

  /**
   * A call that goes nowhere: no stream, nothing sent, until {@link #end} or a cancel, which ends
   * it CANCELLED as a real call's does.
   */
  private static final class Held<R> extends NoopCall<Object, R> {
    private final CompletableFuture<Listener<R>> started = new CompletableFuture<>();
    private final java.util.concurrent.atomic.AtomicBoolean ended =
        new java.util.concurrent.atomic.AtomicBoolean();
    /** If set, the options whose stream tracers are told of a stream written before a cancel. */
    private final @Nullable CallOptions writtenOnCancel;

    private final boolean slowCancel;
    /** A slow cancel, asked for and not yet finished: it ends the call when run. */
    private final CompletableFuture<Runnable> cancelAsked = new CompletableFuture<>();

    Held(@Nullable CallOptions writtenOnCancel, boolean slowCancel) {
      this.writtenOnCancel = writtenOnCancel;
      this.slowCancel = slowCancel;
    }

    /** Waits for a slow cancel to be asked for, then finishes it: the call ends CANCELLED. */
    void finishCancel() throws Exception {
      cancelAsked.get(10, TimeUnit.SECONDS).run();
    }

    /** Waits until a slow cancel is asked for. */
    void awaitCancel() throws Exception {
      cancelAsked.get(10, TimeUnit.SECONDS);
    }

    @Override
    public void start(Listener<R> listener, Metadata headers) {
      started.complete(listener);
    }

    @Override
    public void cancel(@Nullable String message, @Nullable Throwable cause) {
      if (slowCancel) {
        cancelAsked.complete(() -> cancelNow(message, cause));
        return;
      }
      cancelNow(message, cause);
    }

    private void cancelNow(@Nullable String message, @Nullable Throwable cause) {
      Listener<R> listener = started.getNow(null);
      if (listener != null && writtenOnCancel != null) {
        // A transport took the stream and wrote it out before the cancel reached it.
        for (io.grpc.ClientStreamTracer.Factory factory : writtenOnCancel.getStreamTracerFactories()) {
          io.grpc.ClientStreamTracer tracer =
              factory.newClientStreamTracer(
                  io.grpc.ClientStreamTracer.StreamInfo.newBuilder().setCallOptions(writtenOnCancel).build(),
                  new Metadata());
          tracer.streamCreated(io.grpc.Attributes.EMPTY, new Metadata());
          tracer.outboundHeaders();
        }
      }
      if (listener != null && ended.compareAndSet(false, true)) {
        listener.onClose(Status.CANCELLED.withDescription(message).withCause(cause), new Metadata());
      }
    }

    void end(Status status) throws Exception {
      Listener<R> listener = started.get(10, TimeUnit.SECONDS);
      if (ended.compareAndSet(false, true)) {
        listener.onClose(status, new Metadata());
      }
    }
  }

  /** Holds the only call slot of the current replica until it goes away; returns its end. */
  private CompletableFuture<Status> holdTheSlot() throws Exception {
    return Streams.holdTheSlot(channel, CallOptions.DEFAULT.withDeadlineAfter(20, TimeUnit.SECONDS));
  }

  private ListenableFuture<String> failFastSay(String message) {
    return ClientCalls.futureUnaryCall(
        channel.newCall(Echo.SAY, CallOptions.DEFAULT.withDeadlineAfter(20, TimeUnit.SECONDS)),
        message);
  }

  private static Status statusOf(ListenableFuture<?> call) {
    return Streams.statusOf(call);
  }

  @RepeatedTest(5)
  void unsentFailFastCall_madeDuringAHandover_movesToTheNewConnection_whenTheOldServerGoes()
      throws Exception {
    Server a = oneCallAtATime("A");
    Server b = oneCallAtATime("B");
    first.set(Servers.address(a));
    connection.connected().get(10, TimeUnit.SECONDS);
    CompletableFuture<Status> held = holdTheSlot();
    SettableFuture<HostAndPort> lookup = SettableFuture.create();
    next.set(lookup);
    ListenableFuture<GrpcConnection<HostAndPort>> handover = connection.handOver();

    ListenableFuture<String> queued = failFastSay("moved"); // unsent, behind the held call on A
    lookup.set(Servers.address(b));
    assertEquals(Servers.address(b), handover.get(10, TimeUnit.SECONDS).address());
    a.shutdown(); // GOAWAY: the held call may finish; the queued one is refused

    assertEquals("B: moved", queued.get(10, TimeUnit.SECONDS));
    assertEquals(0, said("A"), "A never got the call that moved");
    assertFalse(held.get(10, TimeUnit.SECONDS).isOk());
    assertEquals("B: after", failFastSay("after").get(10, TimeUnit.SECONDS));
  }

  @RepeatedTest(5)
  void unsentFailFastCall_madeDuringAHandover_failsAtOnce_whenThereIsNoConnectionToMoveTo()
      throws Exception {
    Server a = oneCallAtATime("A");
    first.set(Servers.address(a));
    connection.connected().get(10, TimeUnit.SECONDS);
    CompletableFuture<Status> held = holdTheSlot();
    next.set(SettableFuture.create()); // the handover's lookup, and the next round's, hang
    ListenableFuture<GrpcConnection<HostAndPort>> handover = connection.handOver();

    ListenableFuture<String> queued = failFastSay("stranded");
    a.shutdown(); // GOAWAY: the connection drops, the handover is abandoned, a round looks up

    long began = System.nanoTime();
    Status status = statusOf(queued);
    // Moved off the dropped connection, it found none ready ("no connection to replicas"), or its
    // channel failed it first: either way at once, not at its deadline of 20 s.
    assertEquals(Status.Code.UNAVAILABLE, status.getCode(), status.toString());
    assertTrue(System.nanoTime() - began < TimeUnit.SECONDS.toNanos(5), status.toString());
    assertThrows(ExecutionException.class, () -> handover.get(10, TimeUnit.SECONDS));
    assertFalse(held.get(10, TimeUnit.SECONDS).isOk());
  }

  @RepeatedTest(5)
  void unsentFailFastCalls_endWithTheirStatusOnTheCurrentConnection_andMoveWhenTheHandoverClosesIt()
      throws Exception {
    Server a = servers.netty("A", 0);
    Server b = servers.netty("B", 0);
    first.set(Servers.address(a));
    GrpcConnection<HostAndPort> onA = connection.connected().get(10, TimeUnit.SECONDS);
    SettableFuture<HostAndPort> lookup = SettableFuture.create();
    next.set(lookup);
    ListenableFuture<GrpcConnection<HostAndPort>> handover = connection.handOver();
    holder.hold(Servers.address(a)); // calls on A stay in the client, unsent
    ListenableFuture<String> exhausted = failFastSay("exhausted");
    ListenableFuture<String> moved = failFastSay("moved");
    holder.release();

    // A is still current: a status there ends the call, whatever it is.
    holder.end(Status.RESOURCE_EXHAUSTED.withDescription("too big"));
    Status status = statusOf(exhausted);
    assertEquals(Status.Code.RESOURCE_EXHAUSTED, status.getCode(), status.toString());
    assertEquals("too big", status.getDescription());
    assertFalse(moved.isDone());

    lookup.set(Servers.address(b));
    handover.get(10, TimeUnit.SECONDS);
    // The handover's step closed A, with the other call still unsent there: it moved to B.
    assertTrue(onA.isClosed());
    assertEquals("B: moved", moved.get(10, TimeUnit.SECONDS));
  }

  @RepeatedTest(5)
  void anUnsentCallThatItsTransportWritesJustAsItsConnectionCloses_isNotSentAgain() throws Exception {
    Server a = servers.netty("A", 0);
    Server b = oneCallAtATime("B");
    first.set(Servers.address(a));
    GrpcConnection<HostAndPort> onA = connection.connected().get(10, TimeUnit.SECONDS);
    SettableFuture<HostAndPort> lookup = SettableFuture.create();
    next.set(lookup);
    ListenableFuture<GrpcConnection<HostAndPort>> handover = connection.handOver();
    holder.writtenOnCancel = true;
    holder.hold(Servers.address(a)); // unsent on A, until the move cancels it: then written
    ListenableFuture<String> call = failFastSay("once");
    holder.release();

    lookup.set(Servers.address(b));
    handover.get(10, TimeUnit.SECONDS);

    assertTrue(onA.isClosed());
    Status status = statusOf(call); // it may have reached A: it fails, and does not move
    assertEquals(Status.Code.UNAVAILABLE, status.getCode(), status.toString());
    assertEquals("the connection to replicas closed under the call", status.getDescription());
    assertEquals(0, said("B"), "B never got the call");
  }

  /**
   * Connects to {@code a}, starts a handover whose lookup waits for {@code lookup}, and holds the
   * calls made on {@code a} from now on, unsent, with a cancel that ends them only when the test
   * says ({@link Held#finishCancel}).
   */
  private ListenableFuture<GrpcConnection<HostAndPort>> handOverHoldingCallsOn(
      Server a, SettableFuture<HostAndPort> lookup) throws Exception {
    first.set(Servers.address(a));
    connection.connected().get(10, TimeUnit.SECONDS);
    next.set(lookup);
    ListenableFuture<GrpcConnection<HostAndPort>> handover = connection.handOver();
    holder.slowCancel = true;
    holder.hold(Servers.address(a));
    return handover;
  }

  @RepeatedTest(5)
  void anUnsentCallsOwnFailure_asItsConnectionCloses_endsTheCall_andDoesNotMoveIt() throws Exception {
    Server a = servers.netty("A", 0);
    Server b = oneCallAtATime("B");
    SettableFuture<HostAndPort> lookup = SettableFuture.create();
    ListenableFuture<GrpcConnection<HostAndPort>> handover = handOverHoldingCallsOn(a, lookup);
    ListenableFuture<String> call = failFastSay("once"); // unsent on A
    holder.release();
    lookup.set(Servers.address(b));
    handover.get(10, TimeUnit.SECONDS);
    holder.last().awaitCancel(); // A closed: the move began

    // Before the cancel reached it, the attempt failed on its own (its credentials, say).
    holder.end(Status.UNAUTHENTICATED.withDescription("no such key"));

    Status status = statusOf(call);
    assertEquals(Status.Code.UNAUTHENTICATED, status.getCode(), status.toString());
    assertEquals("no such key", status.getDescription());
    assertEquals(0, said("B"), "the call's own failure is not run again elsewhere");
  }

  /**
   * Starts a client-streaming COLLECT call during a handover, held unsent on A with a slow
   * cancel, sends {@code first}, switches to B and waits until the move has cancelled the held
   * attempt, not yet ended: the window between the mover's cancel and the attempt's end.
   */
  private ClientCall<String, String> collectHeldOnAUntilItsMoveBegins(
      CompletableFuture<Status> closed, java.util.List<String> answers) throws Exception {
    Server a = servers.netty("A", 0);
    Server b = servers.netty("B", 0);
    SettableFuture<HostAndPort> lookup = SettableFuture.create();
    ListenableFuture<GrpcConnection<HostAndPort>> handover = handOverHoldingCallsOn(a, lookup);
    ClientCall<String, String> call =
        channel.newCall(Echo.COLLECT, CallOptions.DEFAULT.withDeadlineAfter(20, TimeUnit.SECONDS));
    call.start(Streams.listener(answers::add, closed), new Metadata());
    call.request(1);
    call.sendMessage("first");
    holder.release();
    lookup.set(Servers.address(b));
    handover.get(10, TimeUnit.SECONDS);
    holder.last().awaitCancel();
    return call;
  }

  @RepeatedTest(5)
  void whileTheMoveWaitsForTheOldAttemptToEnd_theCallIsNotReady_andAMessagePastTheBoundMovesAlong()
      throws Exception {
    CompletableFuture<Status> closed = new CompletableFuture<>();
    java.util.List<String> answers = new java.util.concurrent.CopyOnWriteArrayList<>();
    ClientCall<String, String> call = collectHeldOnAUntilItsMoveBegins(closed, answers);

    assertFalse(call.isReady(), "an attempt being moved is not ready");
    call.sendMessage("x".repeat((int) KeptOperations.MAX_BYTES + 1)); // past what a call keeps
    holder.last().finishCancel();
    call.halfClose();

    assertTrue(closed.get(10, TimeUnit.SECONDS).isOk(), closed.get().toString());
    assertEquals(java.util.List.of("B: n=2"), answers, "both messages moved to B");
  }

  @RepeatedTest(5)
  void aCallerThatSendsTooMuchWhileTheMoveWaitsForTheOldAttemptToEnd_endsTheCallThere()
      throws Exception {
    CompletableFuture<Status> closed = new CompletableFuture<>();
    java.util.List<String> answers = new java.util.concurrent.CopyOnWriteArrayList<>();
    ClientCall<String, String> call = collectHeldOnAUntilItsMoveBegins(closed, answers);

    String mebibyte = "x".repeat((int) KeptOperations.MAX_BYTES);
    for (long sent = 0; sent <= KeptOperations.MAX_BYTES_PAST_THE_BOUND; sent += mebibyte.length()) {
      call.sendMessage(mebibyte); // ignoring isReady(), which is false
    }
    holder.last().finishCancel();

    Status status = closed.get(10, TimeUnit.SECONDS);
    assertEquals(Status.Code.UNAVAILABLE, status.getCode(), status.toString());
    assertEquals("the connection to replicas closed under the call", status.getDescription());
    assertEquals(java.util.List.of(), answers);
  }

  @RepeatedTest(5)
  void aCallerCancelWhileTheMoveWaitsForTheOldAttemptToEnd_endsTheCallWithTheCallersStatus()
      throws Exception {
    CompletableFuture<Status> closed = new CompletableFuture<>();
    ClientCall<String, String> call =
        collectHeldOnAUntilItsMoveBegins(closed, new java.util.concurrent.CopyOnWriteArrayList<>());

    call.cancel("the caller gave up", null);
    holder.last().finishCancel();

    Status status = closed.get(10, TimeUnit.SECONDS);
    assertEquals(Status.Code.CANCELLED, status.getCode(), status.toString());
    assertEquals("the caller gave up", status.getDescription());
  }

  @RepeatedTest(5)
  void failFastCallsOutsideAHandover_endWithTheirConnection() throws Exception {
    Server a = servers.netty("A", 0);
    Server b = servers.netty("B", 0);
    first.set(Servers.address(a));
    connection.connected().get(10, TimeUnit.SECONDS);
    holder.hold(Servers.address(a));
    ListenableFuture<String> before = failFastSay("before"); // no handover in flight
    holder.release();
    next.set(Futures.immediateFuture(Servers.address(b)));
    connection.handOver().get(10, TimeUnit.SECONDS);

    holder.end(Status.UNAVAILABLE.withDescription("refused"));

    Status status = statusOf(before); // a plain call of A's channel: it does not move
    assertEquals(Status.Code.UNAVAILABLE, status.getCode(), status.toString());
    assertEquals("refused", status.getDescription());
    assertEquals("B: after", failFastSay("after").get(10, TimeUnit.SECONDS));
  }

  /** The metadata appliers that {@link #holdingIn} holds. */
  private final java.util.concurrent.BlockingQueue<io.grpc.CallCredentials.MetadataApplier> asked =
      new java.util.concurrent.LinkedBlockingQueue<>();

  /** Starts replicas A and B (one call at a time each), connects to A, and returns B. */
  private Server connectedToAWithB() throws Exception {
    Server a = oneCallAtATime("A");
    Server b = oneCallAtATime("B");
    first.set(Servers.address(a));
    connection.connected().get(10, TimeUnit.SECONDS);
    return b;
  }

  /** Call credentials that hold each stream's metadata, unapplied, in {@code asked}. */
  private static io.grpc.CallCredentials holdingIn(
      java.util.concurrent.BlockingQueue<io.grpc.CallCredentials.MetadataApplier> asked) {
    return new io.grpc.CallCredentials() {
      @Override
      public void applyRequestMetadata(
          RequestInfo info, java.util.concurrent.Executor executor, MetadataApplier applier) {
        asked.add(applier);
      }
    };
  }

  /**
   * The race a server's {@code maxConnectionAge} GOAWAY exposes: a wait-for-ready call that its
   * old channel had not yet given a stream when the connection closed is moved; but that channel
   * (reconnecting, say) hands the stream to a transport just as the move's cancel is on its way.
   * Here a transport asks for the call's credentials (it is taking the stream), and applies them
   * only as the cancel passes the channel's interceptor: the stream must then never start on A,
   * and the call moves to B, where it runs once.
   */
  @RepeatedTest(5)
  void aStreamATransportTakesAsTheMoveCancelsIt_neverStarts_andTheCallMoves() throws Exception {
    Server b = connectedToAWithB();
    io.grpc.CallCredentials credentials = holdingIn(asked);
    ListenableFuture<String> call =
        ClientCalls.futureUnaryCall(
            channel.newCall(
                Echo.SAY,
                CallOptions.DEFAULT
                    .withWaitForReady()
                    .withCallCredentials(credentials)
                    .withDeadlineAfter(20, TimeUnit.SECONDS)),
            "taken late");
    assertTrue(holder.credentialsSeen.contains(credentials), "interceptors see the caller's own");
    io.grpc.CallCredentials.MetadataApplier onA =
        java.util.Objects.requireNonNull(asked.poll(10, TimeUnit.SECONDS));
    holder.beforeCancel = () -> onA.apply(new Metadata()); // the transport takes it now

    next.set(Futures.immediateFuture(Servers.address(b)));
    connection.handOver().get(10, TimeUnit.SECONDS); // A closes: the call moves
    io.grpc.CallCredentials.MetadataApplier onB;
    while ((onB = asked.poll(10, TimeUnit.MILLISECONDS)) == null && !call.isDone()) {
      // the moved call asks again, on B; or it failed
    }
    if (onB != null) {
      onB.apply(new Metadata());
    }

    assertEquals("B: taken late", call.get(10, TimeUnit.SECONDS));
    assertEquals(null, holder.beforeCancel, "the move cancelled the attempt on A");
    assertEquals(0, said("A"), "A never got the call");
    assertEquals(1, said("B"));
  }

  /**
   * The same race, with the caller cancelling as the move begins: the sealed stream's failure
   * reaches the attempt before the move's cancel, and the caller still gets its own CANCELLED.
   */
  @RepeatedTest(5)
  void aCallerCancelAsTheSealFailsTheStream_endsTheCallWithTheCallersStatus() throws Exception {
    Server b = connectedToAWithB();
    ClientCall<String, String> call =
        channel.newCall(
            Echo.SAY,
            CallOptions.DEFAULT
                .withWaitForReady()
                .withCallCredentials(holdingIn(asked))
                .withDeadlineAfter(20, TimeUnit.SECONDS));
    CompletableFuture<Status> closed = new CompletableFuture<>();
    call.start(Streams.listener(m -> {}, closed), new Metadata());
    call.request(1);
    call.sendMessage("never sent");
    call.halfClose();
    io.grpc.CallCredentials.MetadataApplier onA =
        java.util.Objects.requireNonNull(asked.poll(10, TimeUnit.SECONDS));
    holder.beforeCancel =
        () -> {
          onA.apply(new Metadata()); // sealed: the stream fails UNAVAILABLE, unstarted
          call.cancel("the caller gave up", null);
        };

    next.set(Futures.immediateFuture(Servers.address(b)));
    connection.handOver().get(10, TimeUnit.SECONDS);

    Status status = closed.get(10, TimeUnit.SECONDS);
    assertEquals(Status.Code.CANCELLED, status.getCode(), status.toString());
    assertEquals("the caller gave up", status.getDescription());
    assertEquals(0, said("A"));
    assertEquals(0, said("B"));
    // If the seal's failure ended the attempt before the caller's cancel, the call moved first,
    // and B's transport asked for credentials that these never give: a transport waits for them
    // before it shuts down, so they are refused here.
    for (io.grpc.CallCredentials.MetadataApplier left : asked) {
      left.fail(Status.UNAVAILABLE.withDescription("the test is over"));
    }
  }

  /**
   * The same race for a call without credentials of its own, on a channel whose credentials (set
   * by its factory) hold the stream: the seal then has no caller's credentials to wrap.
   */
  @RepeatedTest(5)
  void theSealHoldsForACallWithoutCredentials_behindTheChannelsOwn() throws Exception {
    Server a = oneCallAtATime("A");
    Server b = oneCallAtATime("B");
    HostAndPort onA = Servers.address(a);
    io.grpc.CallCredentials heldOnA = holdingIn(asked);
    io.grpc.CallCredentials none =
        new io.grpc.CallCredentials() {
          @Override
          public void applyRequestMetadata(
              RequestInfo info, java.util.concurrent.Executor executor, MetadataApplier applier) {
            applier.apply(new Metadata());
          }
        };
    AtomicReference<HostAndPort> at = new AtomicReference<>(onA);
    PersistentConnection<HostAndPort, GrpcConnection<HostAndPort>> own =
        GrpcConnector.builder(
                (ChannelFactory<HostAndPort>)
                    address ->
                        io.grpc.Grpc.newChannelBuilderForAddress(
                            address.getHost(),
                            address.getPort(),
                            io.grpc.CompositeChannelCredentials.create(
                                io.grpc.InsecureChannelCredentials.create(),
                                address.equals(onA) ? heldOnA : none)))
            .customizer(builder -> builder.intercept(holder))
            .build()
            .persistentConnection("replicas")
            .addressLookup(() -> Futures.immediateFuture(at.get()))
            .build();
    try {
      own.connected().get(10, TimeUnit.SECONDS);
      ListenableFuture<String> call =
          ClientCalls.futureUnaryCall(
              PersistentChannel.of(own)
                  .newCall(
                      Echo.SAY,
                      CallOptions.DEFAULT.withWaitForReady().withDeadlineAfter(20, TimeUnit.SECONDS)),
              "no credentials");
      io.grpc.CallCredentials.MetadataApplier held =
          java.util.Objects.requireNonNull(asked.poll(10, TimeUnit.SECONDS));
      holder.beforeCancel = () -> held.apply(new Metadata()); // the transport takes it now

      at.set(Servers.address(b));
      own.handOver().get(10, TimeUnit.SECONDS);

      assertEquals("B: no credentials", call.get(10, TimeUnit.SECONDS));
      assertEquals(null, holder.beforeCancel, "the move cancelled the attempt on A");
      assertEquals(0, said("A"), "A never got the call");
      assertEquals(1, said("B"));
    } finally {
      own.close().get(10, TimeUnit.SECONDS);
    }
  }

}
