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

  /** Makes a few calls, then restarts the server, which drops the connection. */
  private Server reconnect(Server server) throws Exception {
    calls(10);
    GrpcConnection<String> current = connection.connected().get(10, TimeUnit.SECONDS);
    server.shutdownNow();
    current.closeFinished().get(10, TimeUnit.SECONDS);
    return servers.inProcess("memory");
  }
}
