package dev.tether.grpc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotSame;

import com.google.common.util.concurrent.ListenableFuture;
import com.google.common.util.concurrent.SettableFuture;
import dev.tether.PersistentConnection;
import dev.tether.testing.VirtualTimeScheduler;
import io.grpc.CallOptions;
import io.grpc.ClientCall;
import io.grpc.Metadata;
import io.grpc.Status;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Where the callbacks of calls through a {@link PersistentChannel} run: on the call's executor,
 * or else never inside {@code start()}, never on the thread that runs the scheduler, and never
 * in the persistent connection's loop. Time is virtual: the lookup never answers, so every call
 * waits or fails, and the test's thread is the scheduler's.
 */
class CallThreadsTest {
  private final VirtualTimeScheduler time = VirtualTimeScheduler.create();
  private final SettableFuture<String> lookup = SettableFuture.create();
  private final PersistentConnection<String, GrpcConnection<String>> connection =
      GrpcConnector.persistentConnection("threads", ChannelFactory.inProcess())
          .addressLookup(() -> lookup)
          .scheduler(time)
          .build();
  private final PersistentChannel channel = PersistentChannel.of(connection);

  @AfterEach
  void close() throws Exception {
    ListenableFuture<Void> closing = connection.close();
    time.runDueTasks();
    closing.get(10, TimeUnit.SECONDS);
  }

  /** Where and how a call ended. */
  private record Closed(Status status, Thread thread, boolean insideStart) {}

  private final class Recorder extends ClientCall.Listener<String> {
    final CompletableFuture<Closed> closed = new CompletableFuture<>();
    /** The thread inside {@code start()}, while it is. */
    volatile @Nullable Thread starting;

    @Override
    public void onClose(Status status, Metadata trailers) {
      Thread thread = Thread.currentThread();
      closed.complete(new Closed(status, thread, starting == thread));
    }

    Recorder start(ClientCall<String, String> call) {
      starting = Thread.currentThread();
      call.start(this, new Metadata());
      starting = null;
      return this;
    }

    Closed get() throws Exception {
      return closed.get(10, TimeUnit.SECONDS);
    }
  }

  @Test
  void failFastCall_withoutAConnection_failsOffTheCallersThread_notInsideStart() throws Exception {
    time.runDueTasks();
    Closed closed = new Recorder().start(channel.newCall(Echo.SAY, CallOptions.DEFAULT)).get();
    assertEquals(Status.Code.UNAVAILABLE, closed.status().getCode());
    assertFalse(closed.insideStart(), "onClose ran inside start()");
    assertNotSame(Thread.currentThread(), closed.thread());
  }

  @Test
  void callOnAClosedChannel_failsOffTheCallersThread() throws Exception {
    ListenableFuture<Void> unused = connection.close();
    Closed closed = new Recorder().start(channel.newCall(Echo.SAY, CallOptions.DEFAULT)).get();
    assertEquals("persistent connection to threads is closed", closed.status().getDescription());
    assertFalse(closed.insideStart(), "onClose ran inside start()");
  }

  @Test
  void waitingCall_cancelledBeforeStart_endsOffTheCallersThread() throws Exception {
    ClientCall<String, String> call =
        channel.newCall(Echo.SAY, CallOptions.DEFAULT.withWaitForReady());
    call.cancel("early", null);
    Closed closed = new Recorder().start(call).get();
    assertEquals(Status.Code.CANCELLED, closed.status().getCode());
    assertFalse(closed.insideStart(), "onClose ran inside start()");
  }

  @Test
  void waitingCall_deadlineOnVirtualTime_endsItOffTheSchedulersThread() throws Exception {
    time.runDueTasks();
    Recorder recorder =
        new Recorder()
            .start(
                channel.newCall(
                    Echo.SAY, CallOptions.DEFAULT.withWaitForReady().withDeadlineAfter(1, TimeUnit.HOURS)));
    assertFalse(recorder.closed.isDone());

    time.advance(Duration.ofMinutes(61)); // the scheduler of the persistent connection times it

    Closed closed = recorder.get();
    assertEquals(Status.Code.DEADLINE_EXCEEDED, closed.status().getCode());
    assertEquals(
        "deadline exceeded while waiting for a connection to threads", closed.status().getDescription());
    assertNotSame(Thread.currentThread(), closed.thread(), "onClose ran on the scheduler's thread");
  }

  @Test
  void waitingCalls_failedAtClose_eachEndEvenIfOneExecutorRejects() throws Exception {
    time.runDueTasks();
    ExecutorService shutDown = Executors.newSingleThreadExecutor();
    shutDown.shutdown();
    Recorder rejected =
        new Recorder()
            .start(channel.newCall(Echo.SAY, CallOptions.DEFAULT.withWaitForReady().withExecutor(shutDown)));
    Recorder other =
        new Recorder().start(channel.newCall(Echo.SAY, CallOptions.DEFAULT.withWaitForReady()));

    ListenableFuture<Void> closing = connection.close();
    time.runDueTasks();
    closing.get(10, TimeUnit.SECONDS);

    assertEquals(Status.Code.UNAVAILABLE, other.get().status().getCode());
    assertEquals(Status.Code.UNAVAILABLE, rejected.get().status().getCode());
  }
}
