package dev.tether.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.common.net.HostAndPort;
import com.google.common.util.concurrent.ListenableFuture;
import dev.tether.PersistentConnection;
import dev.tether.grpc.ChannelFactory;
import dev.tether.grpc.Echo;
import dev.tether.grpc.GrpcConnection;
import dev.tether.grpc.GrpcConnector;
import dev.tether.grpc.PersistentChannel;
import io.grpc.CallOptions;
import io.grpc.ClientCall;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.stub.ClientCalls;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;

/**
 * The serving replica is a process killed with SIGKILL while callers make unary calls and hold
 * streams open: every call ends by its deadline (at most 1 s late), none hangs, and
 * wait-for-ready calls made after the kill succeed on the other replica.
 */
class ProcessKillTest {
  private static final long DEADLINE_MS = 2_000;
  /**
   * How late past its deadline a call may end: timers on two busy cores, next to two replica
   * processes, fire late by some milliseconds; a call that hangs or whose deadline restarts when
   * it moves is late by seconds.
   */
  private static final long MARGIN_MS = 1_000;

  /** One call's outcome and how long it took. */
  private record Outcome(Status.Code code, long millis) {}

  @Test
  void servingReplicaKilled_midTraffic_everyCallEndsInTime_andNewCallsGoToTheOther()
      throws Exception {
    Catalog catalog = new Catalog();
    ExecutorService callers = Executors.newFixedThreadPool(4);
    try (ReplicaProcess.Handle a = ReplicaProcess.Handle.start("A");
        ReplicaProcess.Handle b = ReplicaProcess.Handle.start("B")) {
      HostAndPort addressA = HostAndPort.fromParts("127.0.0.1", a.port());
      catalog.publish(addressA);
      catalog.publish(HostAndPort.fromParts("127.0.0.1", b.port()));
      PersistentConnection<HostAndPort, GrpcConnection<HostAndPort>> connection =
          GrpcConnector.persistentConnection("echo", ChannelFactory.plaintext())
              .addressLookup(catalog.lookup())
              .retryDelay(Duration.ofMillis(100))
              .build();
      PersistentChannel channel = PersistentChannel.of(connection);
      try {
        connection.connected().get(10, TimeUnit.SECONDS);
        ConcurrentLinkedQueue<Outcome> outcomes = new ConcurrentLinkedQueue<>();
        Semaphore succeeded = new Semaphore(0); // a permit per successful call
        AtomicBoolean stop = new AtomicBoolean();
        List<Future<?>> loops = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
          loops.add(
              callers.submit(
                  () -> {
                    while (!stop.get()) {
                      long started = System.nanoTime();
                      Status.Code code;
                      try {
                        ClientCalls.blockingUnaryCall(channel, Echo.SAY, options(), "x");
                        code = Status.Code.OK;
                      } catch (io.grpc.StatusRuntimeException e) {
                        code = e.getStatus().getCode();
                      }
                      outcomes.add(new Outcome(code, (System.nanoTime() - started) / 1_000_000));
                      if (code == Status.Code.OK) {
                        succeeded.release();
                      }
                    }
                    return null;
                  }));
        }
        List<CompletableFuture<Status>> streams = new ArrayList<>();
        for (int i = 0; i < 10; i++) {
          streams.add(openStream(channel, options()));
          streams.add(pumpingStream(channel, options()));
        }
        // Some traffic on A first.
        assertTrue(succeeded.tryAcquire(200, 20, TimeUnit.SECONDS), "no traffic on A");
        catalog.withdraw(addressA);
        a.kill();
        for (int i = 0; i < 10; i++) {
          streams.add(openStream(channel, options())); // as A dies, or waiting for B
        }
        succeeded.drainPermits(); // from here on, successes after the kill
        // Traffic again, on B (checked below: the wait may end by its timeout).
        boolean trafficOnB = succeeded.tryAcquire(200, 20, TimeUnit.SECONDS);
        stop.set(true);
        for (Future<?> loop : loops) {
          loop.get(DEADLINE_MS + 5_000, TimeUnit.MILLISECONDS);
        }
        for (CompletableFuture<Status> stream : streams) {
          // Idle streams end by their deadline at the latest.
          stream.get(DEADLINE_MS + MARGIN_MS, TimeUnit.MILLISECONDS);
        }
        List<Outcome> late =
            outcomes.stream().filter(o -> o.millis() > DEADLINE_MS + MARGIN_MS).toList();
        assertEquals(
            List.of(), late, "calls that outlived their deadline by more than " + MARGIN_MS + " ms");
        assertTrue(
            trafficOnB,
            "wait-for-ready calls after the kill did not succeed on B: " + summary(outcomes));
        ListenableFuture<String> onB =
            ClientCalls.futureUnaryCall(channel.newCall(Echo.SAY, options()), "after");
        assertEquals("B: after", onB.get(10, TimeUnit.SECONDS));
      } finally {
        connection.close().get(10, TimeUnit.SECONDS);
      }
    } finally {
      callers.shutdownNow();
    }
  }

  /** Wait-for-ready, with a deadline from now. */
  private static CallOptions options() {
    return CallOptions.DEFAULT.withWaitForReady().withDeadlineAfter(DEADLINE_MS, TimeUnit.MILLISECONDS);
  }

  private static String summary(ConcurrentLinkedQueue<Outcome> outcomes) {
    java.util.Map<Status.Code, Long> byCode = new java.util.TreeMap<>();
    for (Outcome outcome : outcomes) {
      byCode.merge(outcome.code(), 1L, Long::sum);
    }
    return byCode.toString();
  }

  /**
   * Opens a bidirectional stream that sends whenever it is ready (flow control: only while
   * {@code isReady()}, from {@code onReady}) and asks for each echo; completes when it ends.
   */
  private static CompletableFuture<Status> pumpingStream(PersistentChannel channel, CallOptions options) {
    CompletableFuture<Status> ended = new CompletableFuture<>();
    ClientCall<String, String> call = channel.newCall(Echo.CHAT, options);
    call.start(
        new ClientCall.Listener<String>() {
          @Override
          public void onReady() {
            for (int i = 0; i < 16 && call.isReady(); i++) {
              call.sendMessage("pump");
            }
          }

          @Override
          public void onMessage(String message) {
            call.request(1);
          }

          @Override
          public void onClose(Status status, Metadata trailers) {
            ended.complete(status);
          }
        },
        new Metadata());
    call.request(1);
    return ended;
  }

  /** Opens a bidirectional stream that sends one message and idles; completes when it ends. */
  private static CompletableFuture<Status> openStream(PersistentChannel channel, CallOptions options) {
    CompletableFuture<Status> ended = new CompletableFuture<>();
    ClientCall<String, String> call = channel.newCall(Echo.CHAT, options);
    call.start(
        new ClientCall.Listener<String>() {
          @Override
          public void onClose(Status status, Metadata trailers) {
            ended.complete(status);
          }
        },
        new Metadata());
    call.request(2);
    call.sendMessage("open");
    return ended;
  }
}
