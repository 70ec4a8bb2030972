package dev.tether.grpc;

import static com.google.common.util.concurrent.MoreExecutors.directExecutor;
import static org.junit.jupiter.api.Assertions.assertEquals;

import com.google.common.util.concurrent.SettableFuture;
import dev.tether.PersistentConnection;
import io.grpc.CallOptions;
import io.grpc.ClientCall;
import io.grpc.Metadata;
import io.grpc.ServerServiceDefinition;
import io.grpc.Status;
import io.grpc.inprocess.InProcessServerBuilder;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.ServerCalls;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.RepeatedTest;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Wait-for-ready calls cancelled from other threads while their connection arrives: each ends
 * exactly once, with CANCELLED; nothing is thrown out of {@code cancel()}; and every call that
 * reached the server is cancelled there too (no cancel is lost).
 */
class CancelRaceTest {
  private static final int CALLS = 200;

  @RegisterExtension final Servers servers = new Servers();

  /** Holds every call until it is cancelled; counts arrivals and cancellations. */
  private static final class Holding {
    private int arrived; // guarded by this
    private int cancelled; // guarded by this

    ServerServiceDefinition service() {
      return ServerServiceDefinition.builder("tether.test.Echo")
          .addMethod(
              Echo.SLOW,
              ServerCalls.asyncUnaryCall(
                  (request, response) -> {
                    synchronized (this) {
                      arrived++;
                    }
                    ServerCallStreamObserver<String> call = (ServerCallStreamObserver<String>) response;
                    AtomicBoolean counted = new AtomicBoolean();
                    Runnable onCancel =
                        () -> {
                          if (counted.compareAndSet(false, true)) {
                            synchronized (this) {
                              cancelled++;
                              notifyAll();
                            }
                          }
                        };
                    call.setOnCancelHandler(onCancel);
                    if (call.isCancelled()) { // cancelled before the handler was set
                      onCancel.run();
                    }
                  }))
          .build();
    }

    /** Waits until every call that arrived was cancelled; returns "arrived/cancelled". */
    synchronized String awaitAllCancelled() throws InterruptedException {
      long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
      while (cancelled < arrived && System.nanoTime() < end) {
        TimeUnit.NANOSECONDS.timedWait(this, end - System.nanoTime());
      }
      return arrived + "/" + cancelled;
    }
  }

  private static final class Recorder extends ClientCall.Listener<String> {
    final AtomicInteger closes = new AtomicInteger();
    final CompletableFuture<Status> closed = new CompletableFuture<>();

    @Override
    public void onClose(Status status, Metadata trailers) {
      closes.incrementAndGet();
      closed.complete(status);
    }
  }

  @RepeatedTest(50)
  void cancelsRacingTheConnection_eachCallEndsOnceWithCancelled(
      org.junit.jupiter.api.RepetitionInfo repetition) throws Exception {
    String name = "race-" + repetition.getCurrentRepetition();
    Holding holding = new Holding();
    servers.track(InProcessServerBuilder.forName(name).addService(holding.service()));
    SettableFuture<String> lookup = SettableFuture.create();
    PersistentConnection<String, GrpcConnection<String>> connection =
        GrpcConnector.persistentConnection("race", ChannelFactory.inProcess())
            .addressLookup(() -> lookup)
            .build();
    PersistentChannel channel = PersistentChannel.of(connection);
    try {
      List<ClientCall<String, String>> calls = new ArrayList<>();
      List<Recorder> recorders = new ArrayList<>();
      for (int i = 0; i < CALLS; i++) {
        CallOptions options = CallOptions.DEFAULT.withWaitForReady();
        ClientCall<String, String> call =
            channel.newCall(Echo.SLOW, i % 2 == 0 ? options : options.withExecutor(directExecutor()));
        Recorder recorder = new Recorder();
        call.start(recorder, new Metadata());
        call.request(1);
        call.sendMessage("x");
        call.halfClose();
        calls.add(call);
        recorders.add(recorder);
      }
      Collections.shuffle(calls);
      CyclicBarrier go = new CyclicBarrier(3);
      ConcurrentLinkedQueue<Throwable> thrown = new ConcurrentLinkedQueue<>();
      Thread connector = new Thread(() -> {
        await(go);
        lookup.set(name);
      });
      List<Thread> cancellers = new ArrayList<>();
      for (List<ClientCall<String, String>> half :
          List.of(calls.subList(0, CALLS / 2), calls.subList(CALLS / 2, CALLS))) {
        cancellers.add(
            new Thread(() -> {
              await(go);
              for (ClientCall<String, String> call : half) {
                try {
                  call.cancel("given up", null);
                } catch (Throwable t) {
                  thrown.add(t);
                }
              }
            }));
      }
      connector.start();
      cancellers.forEach(Thread::start);
      connector.join(10_000);
      for (Thread canceller : cancellers) {
        canceller.join(10_000);
      }

      assertEquals(List.of(), List.copyOf(thrown), "thrown out of cancel()");
      for (Recorder recorder : recorders) {
        assertEquals(Status.Code.CANCELLED, recorder.closed.get(10, TimeUnit.SECONDS).getCode());
      }
      connection.connected().get(10, TimeUnit.SECONDS);
      connection.close().get(10, TimeUnit.SECONDS);
      for (Recorder recorder : recorders) {
        assertEquals(1, recorder.closes.get(), "onClose calls");
      }
      assertEquals(0, channel.keptBytes(), "every call ended: none keeps anything for a move");
      // Every call that reached the server was cancelled there.
      String counts = holding.awaitAllCancelled();
      String[] parts = counts.split("/");
      assertEquals(parts[0], parts[1], "calls arrived / cancelled at the server");
    } finally {
      connection.close().get(10, TimeUnit.SECONDS);
    }
  }

  private static void await(CyclicBarrier barrier) {
    try {
      barrier.await(10, TimeUnit.SECONDS);
    } catch (Exception e) {
      throw new AssertionError(e);
    }
  }
}
