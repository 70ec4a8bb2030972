package dev.tether.grpc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.common.util.concurrent.Futures;
import com.google.common.util.concurrent.ListenableFuture;
import dev.tether.PersistentConnection;
import io.grpc.CallOptions;
import io.grpc.ClientCall;
import io.grpc.Metadata;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.stub.ClientCalls;
import java.lang.management.ManagementFactory;
import java.lang.ref.WeakReference;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** Finished calls leave nothing behind: not on a long-lived connection, not across reconnects. */
class CallMemoryTest {
  private static final long MB = 1024 * 1024;

  @RegisterExtension final Servers servers = new Servers();
  private final PersistentConnection<String, GrpcConnection<String>> connection =
      GrpcConnector.persistentConnection("memory", ChannelFactory.inProcess())
          .addressLookup(() -> Futures.immediateFuture("memory"))
          .retryDelay(Duration.ZERO)
          .logger(org.slf4j.helpers.NOPLogger.NOP_LOGGER)
          .build();
  private final PersistentChannel channel = PersistentChannel.of(connection);

  @AfterEach
  void close() throws Exception {
    connection.close().get(10, TimeUnit.SECONDS);
  }

  private static long heapAfterGc() {
    for (int i = 0; i < 3; i++) {
      System.gc();
    }
    return ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
  }

  /** Makes {@code count} wait-for-ready calls, 64 in flight at a time, each succeeding. */
  private void calls(int count) throws Exception {
    CallOptions options = CallOptions.DEFAULT.withWaitForReady().withDeadlineAfter(30, TimeUnit.SECONDS);
    List<ListenableFuture<String>> inFlight = new ArrayList<>();
    for (int i = 0; i < count; i++) {
      inFlight.add(ClientCalls.futureUnaryCall(channel.newCall(Echo.SAY, options), "x"));
      if (inFlight.size() == 64) {
        for (ListenableFuture<String> call : inFlight) {
          assertEquals("memory: x", call.get(10, TimeUnit.SECONDS));
        }
        inFlight.clear();
      }
    }
    for (ListenableFuture<String> call : inFlight) {
      assertEquals("memory: x", call.get(10, TimeUnit.SECONDS));
    }
  }

  /** Starts a call whose listener only the call refers to, and waits for it to finish. */
  private WeakReference<ClientCall.Listener<String>> finishedCall() throws Exception {
    CompletableFuture<Status> closed = new CompletableFuture<>();
    ClientCall.Listener<String> listener =
        new ClientCall.Listener<>() {
          @Override
          public void onClose(Status status, Metadata trailers) {
            closed.complete(status);
          }
        };
    ClientCall<String, String> call =
        channel.newCall(Echo.SAY, CallOptions.DEFAULT.withWaitForReady());
    call.start(listener, new Metadata());
    call.request(1);
    call.sendMessage("x");
    call.halfClose();
    assertTrue(closed.get(10, TimeUnit.SECONDS).isOk());
    return new WeakReference<>(listener);
  }

  private static void assertCollected(WeakReference<?> reference) {
    for (int i = 0; i < 20 && reference.get() != null; i++) {
      System.gc();
    }
    assertNull(reference.get(), "a finished call's listener is still reachable");
  }

  @Test
  void hundredThousandWaitForReadyCalls_onOneConnection_leaveTheHeapFlat() throws Exception {
    servers.inProcess("memory");
    connection.connected().get(10, TimeUnit.SECONDS);
    calls(10_000); // warm up: classes, pools, JIT
    long before = heapAfterGc();

    calls(100_000);
    WeakReference<ClientCall.Listener<String>> last = finishedCall();

    long grown = heapAfterGc() - before;
    assertTrue(grown < 4 * MB, "heap grew by " + grown / 1024 + " KiB over 100,000 calls");
    assertCollected(last);
  }

  @Test
  void thousandReconnects_withCallsOnEach_leaveTheHeapFlat() throws Exception {
    Server server = servers.inProcess("memory");
    connection.connected().get(10, TimeUnit.SECONDS);
    for (int i = 0; i < 50; i++) { // warm up
      server = reconnect(server);
    }
    long before = heapAfterGc();

    for (int i = 0; i < 1_000; i++) {
      server = reconnect(server);
    }
    WeakReference<ClientCall.Listener<String>> last = finishedCall();

    long grown = heapAfterGc() - before;
    assertTrue(grown < 4 * MB, "heap grew by " + grown / 1024 + " KiB over 1,000 reconnects");
    assertCollected(last);
  }

  /**
   * Runs {@code rounds} of four streams at once: a server stream and a bidirectional stream, each
   * flow-controlled and run to its end, and two bidirectional streams that {@code cancellers}
   * cancel mid-stream, once the server has answered them.
   */
  private void streams(int rounds, java.util.concurrent.ExecutorService cancellers) throws Exception {
    CallOptions options = CallOptions.DEFAULT.withWaitForReady().withDeadlineAfter(30, TimeUnit.SECONDS);
    for (int i = 0; i < rounds; i++) {
      CompletableFuture<Integer> server = Streams.serverStream(channel, options, 10);
      CompletableFuture<Integer> bidi = Streams.bidiStream(channel, options, 10);
      List<CompletableFuture<Status>> cancelled = new ArrayList<>();
      for (int c = 0; c < 2; c++) {
        CompletableFuture<String> answered = new CompletableFuture<>();
        CompletableFuture<Status> ended = new CompletableFuture<>();
        ClientCall<String, String> call = channel.newCall(Echo.CHAT, options);
        call.start(Streams.listener(answered::complete, ended), new Metadata());
        call.request(1);
        call.sendMessage("m");
        answered.thenRun(() -> cancellers.execute(() -> call.cancel("given up", null)));
        cancelled.add(ended);
      }
      assertEquals(10, server.get(10, TimeUnit.SECONDS));
      assertEquals(10, bidi.get(10, TimeUnit.SECONDS));
      for (CompletableFuture<Status> ended : cancelled) {
        assertEquals(Status.Code.CANCELLED, ended.get(10, TimeUnit.SECONDS).getCode());
      }
    }
  }

  @Test
  void tenThousandStreams_someCancelledFromOtherThreads_leaveTheHeapFlat() throws Exception {
    servers.inProcess("memory");
    connection.connected().get(10, TimeUnit.SECONDS);
    java.util.concurrent.ExecutorService cancellers = java.util.concurrent.Executors.newFixedThreadPool(2);
    try {
      streams(250, cancellers); // warm up
      long before = heapAfterGc();

      streams(2_500, cancellers); // 10,000 streams
      WeakReference<ClientCall.Listener<String>> last = finishedCall();

      long grown = heapAfterGc() - before;
      assertTrue(grown < 4 * MB, "heap grew by " + grown / 1024 + " KiB over 10,000 streams");
      assertCollected(last);
      assertEquals(0, channel.keptBytes(), "no ended stream keeps anything for a move");
    } finally {
      cancellers.shutdown();
      assertTrue(cancellers.awaitTermination(10, TimeUnit.SECONDS));
    }
  }

  /**
   * Runs {@code rounds} of a server stream and a bidirectional stream, flow-controlled; every
   * tenth round kills the server while they run and starts it again. Each stream must end, one
   * way or the other, within its deadline.
   */
  private int cut;

  private Server streamsCutByDrops(Server first, int rounds) throws Exception {
    Server server = first;
    CallOptions options = CallOptions.DEFAULT.withWaitForReady().withDeadlineAfter(10, TimeUnit.SECONDS);
    for (int i = 0; i < rounds; i++) {
      List<CompletableFuture<Integer>> streams =
          List.of(
              Streams.serverStream(channel, options, 50), Streams.bidiStream(channel, options, 50));
      if (i % 10 == 0) {
        servers.stop(server); // not kept for the end of the test: the heap is measured
        server = servers.inProcess("memory");
      }
      for (CompletableFuture<Integer> stream : streams) {
        try {
          assertEquals(50, stream.get(15, TimeUnit.SECONDS));
        } catch (java.util.concurrent.ExecutionException cutByTheDrop) {
          cut++; // ended with an error: sent to the server that was killed
        }
      }
    }
    return server;
  }

  @Test
  void streamsCutByAHundredDrops_leaveTheHeapFlat() throws Exception {
    Server server = servers.inProcess("memory");
    connection.connected().get(10, TimeUnit.SECONDS);
    server = streamsCutByDrops(server, 100); // warm up
    long before = heapAfterGc();

    cut = 0;
    streamsCutByDrops(server, 1_000); // 2,000 streams, 100 drops
    assertTrue(cut > 0, "no stream was cut by a drop: the test drops too late");
    WeakReference<ClientCall.Listener<String>> last = finishedCall();

    long grown = heapAfterGc() - before;
    assertTrue(grown < 4 * MB, "heap grew by " + grown / 1024 + " KiB over 2,000 streams and 100 drops");
    assertCollected(last);
    assertEquals(0, channel.keptBytes(), "no ended stream keeps anything for a move");
  }

  /** Makes a few calls, then restarts the server, which drops the connection. */
  private Server reconnect(Server server) throws Exception {
    calls(10);
    GrpcConnection<String> current = connection.connected().get(10, TimeUnit.SECONDS);
    servers.stop(server); // not kept for the end of the test: the heap is measured
    current.closeFinished().get(10, TimeUnit.SECONDS);
    return servers.inProcess("memory");
  }
}
