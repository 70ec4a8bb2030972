package dev.tether.grpc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.common.net.HostAndPort;
import com.google.common.util.concurrent.Futures;
import com.google.common.util.concurrent.ListenableFuture;
import dev.tether.PersistentConnection;
import io.grpc.CallOptions;
import io.grpc.ClientInterceptors;
import io.grpc.InsecureServerCredentials;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.stub.MetadataUtils;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.stub.ClientCalls;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Wait-for-ready calls that their connection never sent move to the next connection, with what
 * the caller did; sent ones stay. A replica that allows one call at a time makes a second call
 * wait, unsent, in the client's transport, for as long as the first one runs.
 */
class MoveTest {
  @RegisterExtension final Servers servers = new Servers();
  private final AtomicReference<HostAndPort> address = new AtomicReference<>();
  private final PersistentConnection<HostAndPort, GrpcConnection<HostAndPort>> connection =
      GrpcConnector.builder(ChannelFactory.plaintext())
          .shutdownGrace(Duration.ofMillis(500))
          .build()
          .persistentConnection("replicas")
          .addressLookup(() -> Futures.immediateFuture(address.get()))
          .retryDelay(Duration.ofMillis(50))
          .build();
  private final PersistentChannel channel = PersistentChannel.of(connection);

  @AfterEach
  void close() throws Exception {
    connection.close().get(10, TimeUnit.SECONDS);
  }

  /** A replica that runs one call at a time per connection. */
  private Server oneCallAtATime(String id) {
    return servers.netty(
        id, 0, InsecureServerCredentials.create(), b -> b.maxConcurrentCallsPerConnection(1));
  }

  /** The headers of the SAY calls that a replica received. */
  private final List<Metadata> received = new java.util.concurrent.CopyOnWriteArrayList<>();

  private Server oneCallAtATime_recordingHeaders(String id) {
    ServerInterceptor recorder =
        new ServerInterceptor() {
          @Override
          public <Q, R> ServerCall.Listener<Q> interceptCall(
              ServerCall<Q, R> call, Metadata headers, ServerCallHandler<Q, R> next) {
            if (call.getMethodDescriptor().getFullMethodName().equals(Echo.SAY.getFullMethodName())) {
              received.add(headers);
            }
            return next.startCall(call, headers);
          }
        };
    return servers.netty(
        id,
        0,
        InsecureServerCredentials.create(),
        b -> b.maxConcurrentCallsPerConnection(1).intercept(recorder));
  }

  private static final Metadata.Key<String> TRACE =
      Metadata.Key.of("x-trace", Metadata.ASCII_STRING_MARSHALLER);

  private static HostAndPort addressOf(Server server) {
    return HostAndPort.fromParts("127.0.0.1", Servers.port(server));
  }

  private static CallOptions waiting(long seconds) {
    return CallOptions.DEFAULT.withWaitForReady().withDeadlineAfter(seconds, TimeUnit.SECONDS);
  }

  private CompletableFuture<Status> holdTheSlot() throws Exception {
    return Streams.holdTheSlot(channel, waiting(20)); // sent, answered once: it can no longer move
  }

  private static Status statusOf(ListenableFuture<?> call) {
    return Streams.statusOf(call);
  }

  @org.junit.jupiter.api.RepeatedTest(5)
  void unsentCalls_moveToTheNextReplica_withMessagesHalfCloseMetadataAndCompression()
      throws Exception {
    Server first = oneCallAtATime("A");
    Server second = oneCallAtATime_recordingHeaders("B");
    address.set(addressOf(first));
    connection.connected().get(10, TimeUnit.SECONDS);
    CompletableFuture<Status> held = holdTheSlot();
    CompletableFuture<String> stream = Streams.clientStream(channel, waiting(20), 5);
    Metadata trace = new Metadata();
    trace.put(TRACE, "42");
    ListenableFuture<String> unary =
        ClientCalls.futureUnaryCall(
            ClientInterceptors.intercept(channel, MetadataUtils.newAttachHeadersInterceptor(trace))
                .newCall(Echo.SAY, waiting(20).withCompression("gzip")),
            "moved");

    address.set(addressOf(second));
    first.shutdown(); // GOAWAY: the held call may go on; the queued ones are refused

    assertEquals("B: n=5", stream.get(10, TimeUnit.SECONDS));
    assertEquals("B: moved", unary.get(10, TimeUnit.SECONDS));
    Metadata got = received.get(0);
    assertEquals("42", got.get(TRACE));
    assertEquals(
        "gzip", got.get(Metadata.Key.of("grpc-encoding", Metadata.ASCII_STRING_MARSHALLER)));
    // The call that A answered stays there and ends with it.
    assertFalse(held.get(10, TimeUnit.SECONDS).isOk());
    assertEquals(0, channel.keptBytes(), "every call ended: none keeps anything for a move");
  }

  /**
   * Flow-controlled streams that move: a server stream asking for one message at a time, and a
   * bidirectional stream that also sends only while ready, with more messages than a stream
   * buffers before it is ready. Each must run to its end on the next replica, every message
   * answered once: the requests, the messages kept before the move, and the readiness that
   * lets the sender go on after it all reach the new attempt.
   */
  @org.junit.jupiter.params.ParameterizedTest(name = "{0} executor")
  @org.junit.jupiter.params.provider.ValueSource(
      strings = {"default", "direct", "default", "direct", "default", "direct"})
  void movedFlowControlledStreams_runToTheirEnd_onTheNextReplica(String executor)
      throws Exception {
    Server first = oneCallAtATime("A");
    Server second = servers.netty("B", 0);
    address.set(addressOf(first));
    connection.connected().get(10, TimeUnit.SECONDS);
    CompletableFuture<Status> held = holdTheSlot();
    int messages = 5_000; // about 30 KiB each way: past what a stream buffers before it is ready
    // The direct executor runs the listener on the transport's threads, and on the thread that
    // moves the call.
    CallOptions options =
        executor.equals("direct")
            ? waiting(30).withExecutor(com.google.common.util.concurrent.MoreExecutors.directExecutor())
            : waiting(30);
    CompletableFuture<Integer> serverStream = Streams.serverStream(channel, options, messages);
    CompletableFuture<Integer> bidiStream = Streams.bidiStream(channel, options, messages);

    address.set(addressOf(second));
    first.shutdown(); // GOAWAY: the queued streams are refused, unsent, and move

    assertEquals(messages, serverStream.get(20, TimeUnit.SECONDS));
    assertEquals(messages, bidiStream.get(20, TimeUnit.SECONDS));
    assertFalse(held.get(10, TimeUnit.SECONDS).isOk());
    assertEquals(0, channel.keptBytes(), "every call ended: none keeps anything for a move");
  }

  @org.junit.jupiter.api.RepeatedTest(5)
  void unsentClientStream_pastTheByteBound_staysWhereItIs() throws Exception {
    Server first = oneCallAtATime("A");
    Server second = oneCallAtATime("B");
    address.set(addressOf(first));
    connection.connected().get(10, TimeUnit.SECONDS);
    CompletableFuture<Status> held = holdTheSlot();
    String kilobytes64 = "x".repeat(64 * 1024);
    // 1.25 MiB is past the bound of what a call keeps for a move; 640 KiB is not.
    CompletableFuture<Status> big = new CompletableFuture<>();
    CompletableFuture<Status> small = new CompletableFuture<>();
    for (CompletableFuture<Status> ended : List.of(big, small)) {
      io.grpc.ClientCall<String, String> call = started(Echo.COLLECT, waiting(20), ended, 1);
      for (int i = 0; i < (ended == big ? 20 : 10); i++) {
        call.sendMessage(kilobytes64);
      }
      call.halfClose();
    }

    address.set(addressOf(second));
    first.shutdown(); // GOAWAY: the held call may go on; the queued ones are refused

    assertTrue(small.get(10, TimeUnit.SECONDS).isOk(), "the call within the bound moved to B");
    assertFalse(big.get(10, TimeUnit.SECONDS).isOk(), "the call past the bound stayed on A");
    assertFalse(held.get(10, TimeUnit.SECONDS).isOk());
    assertEquals(0, channel.keptBytes(), "every call ended: none keeps anything for a move");
  }

  @Test
  void queuedCall_whenThePersistentConnectionCloses_staysOnItsChannel_andEndsWithIt()
      throws Exception {
    Server only = oneCallAtATime("A");
    address.set(addressOf(only));
    connection.connected().get(10, TimeUnit.SECONDS);
    CompletableFuture<Status> held = holdTheSlot();
    // Queued in the client's transport behind the held call: a closed connection drains its
    // transport gracefully, so this call is left to it (it might still be sent), as in gRPC.
    ListenableFuture<String> queued =
        ClientCalls.futureUnaryCall(channel.newCall(Echo.SAY, CallOptions.DEFAULT.withWaitForReady()), "x");

    ListenableFuture<Void> closing = connection.close();

    closing.get(10, TimeUnit.SECONDS); // the channel is forced down after the grace of 500 ms
    assertEquals(Status.Code.UNAVAILABLE, statusOf(queued).getCode());
    assertFalse(held.get(10, TimeUnit.SECONDS).isOk(), "the sent call ended with its channel");
    assertEquals(0, channel.keptBytes(), "every call ended: none keeps anything for a move");
  }

  /**
   * Starts a streaming call of {@code method} that sends {@code messages} requests, asks for two
   * responses, and then idles without half-closing; completes with its status when it ends. (It
   * never leaves a response it did not ask for: gRPC holds a close back until the responses before
   * it are asked for and delivered.)
   */
  private CompletableFuture<Status> idleStream(
      io.grpc.MethodDescriptor<String, String> method, CallOptions options, int messages) {
    CompletableFuture<Status> ended = new CompletableFuture<>();
    io.grpc.ClientCall<String, String> call = started(method, options, ended, 2);
    for (int i = 0; i < messages; i++) {
      call.sendMessage("m" + i);
    }
    return ended;
  }

  /** Starts a call whose end completes {@code ended}, and asks for {@code responses}. */
  private io.grpc.ClientCall<String, String> started(
      io.grpc.MethodDescriptor<String, String> method,
      CallOptions options,
      CompletableFuture<Status> ended,
      int responses) {
    io.grpc.ClientCall<String, String> call = channel.newCall(method, options);
    call.start(
        new io.grpc.ClientCall.Listener<String>() {
          @Override
          public void onClose(Status status, io.grpc.Metadata trailers) {
            ended.complete(status);
          }
        },
        new io.grpc.Metadata());
    call.request(responses);
    return call;
  }

  private void idleStreams(List<CompletableFuture<Status>> calls, CallOptions options) {
    for (int i = 0; i < 8; i++) {
      calls.add(idleStream(Echo.CHAT, options, 1));
      calls.add(idleStream(Echo.COLLECT, options, 3));
    }
  }

  @org.junit.jupiter.api.RepeatedTest(5)
  void streamsCutByADrop_orMadeAcrossIt_eachEndWithinItsDeadline() throws Exception {
    Server server = servers.netty("A", 0);
    int port = Servers.port(server);
    address.set(HostAndPort.fromParts("127.0.0.1", port));
    connection.connected().get(10, TimeUnit.SECONDS);
    long deadlineMillis = 2_000;
    CallOptions options =
        CallOptions.DEFAULT.withWaitForReady().withDeadlineAfter(deadlineMillis, TimeUnit.MILLISECONDS);
    long started = System.nanoTime();
    List<CompletableFuture<Status>> calls = new ArrayList<>();
    idleStreams(calls, options); // on A when it dies
    server.shutdownNow();
    idleStreams(calls, options); // as it dies, or waiting for the next connection
    servers.netty("A", port);
    for (int i = 0; i < calls.size(); i++) {
      // The calls share one deadline, fixed as the options were made. Late timers on a busy
      // machine are late by milliseconds; a call that hangs, or whose deadline restarts as it
      // moves, by seconds.
      long left = deadlineMillis + 1_000 - (System.nanoTime() - started) / 1_000_000;
      try {
        assertFalse(calls.get(i).get(Math.max(left, 1), TimeUnit.MILLISECONDS).isOk());
      } catch (java.util.concurrent.TimeoutException e) {
        String late;
        try {
          late = calls.get(i).get(20, TimeUnit.SECONDS) + " at " + (System.nanoTime() - started) / 1_000_000;
        } catch (Exception again) {
          late = again.toString();
        }
        throw new AssertionError("call " + i + " outlived its deadline by more than 1 s: " + late, e);
      }
    }
    assertEquals(0, channel.keptBytes(), "every call ended: none keeps anything for a move");
  }
}
