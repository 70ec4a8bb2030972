package dev.tether.grpc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.common.net.HostAndPort;
import com.google.common.util.concurrent.Futures;
import com.google.common.util.concurrent.MoreExecutors;
import dev.tether.PersistentConnection;
import io.grpc.CallCredentials;
import io.grpc.CallOptions;
import io.grpc.ClientCall;
import io.grpc.Channel;
import io.grpc.ClientInterceptor;
import io.grpc.ClientTransportFilter;
import io.grpc.ForwardingClientCall;
import io.grpc.ForwardingClientCallListener;
import io.grpc.MethodDescriptor;
import io.grpc.Metadata;
import io.grpc.Server;
import io.grpc.Status;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Queue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * A drop that the connection has not noticed yet: the channel left READY, but the callback that
 * tells the connection is still on its way (here: held in the channel's executor). A
 * wait-for-ready call whose stream its channel refused unsent in that window moves to the next
 * connection; it does not fail for a drop that is merely late.
 */
class UnnoticedDropTest {
  @RegisterExtension final Servers servers = new Servers();
  private final Gate gate = new Gate();
  private final AtomicReference<HostAndPort> address = new AtomicReference<>();
  private final PersistentConnection<HostAndPort, GrpcConnection<HostAndPort>> connection =
      GrpcConnector.persistentConnection(
              "late-drop",
              (ChannelFactory<HostAndPort>)
                  at ->
                      // No retry: the refused stream ends the call at once, as a second refusal
                      // after gRPC's one transparent retry does.
                      ChannelFactory.plaintext()
                          .newChannelBuilder(at)
                          .disableRetry()
                          .executor(gate)
                          .intercept(this.handedTheEnd)
                          .addTransportFilter(this.transportEnded))
          .addressLookup(() -> Futures.immediateFuture(address.get()))
          .retryDelay(Duration.ofMillis(20))
          .build();
  private final PersistentChannel channel = PersistentChannel.of(connection);

  @AfterEach
  void close() throws Exception {
    gate.open();
    connection.close().get(10, TimeUnit.SECONDS);
  }

  /** Runs tasks at once while open; while shut, keeps them, in order, for {@link #open}. */
  private static final class Gate implements Executor {
    private final Queue<Runnable> held = new ArrayDeque<>();
    private boolean shut;
    /** Completes when the shut gate holds its first task. */
    final CompletableFuture<Void> holds = new CompletableFuture<>();

    @Override
    public void execute(Runnable task) {
      boolean hold;
      synchronized (this) {
        hold = shut;
        if (hold) {
          held.add(task);
        }
      }
      if (hold) {
        holds.complete(null);
      } else {
        task.run();
      }
    }

    synchronized void shut() {
      shut = true;
    }

    void open() {
      while (true) {
        Runnable task;
        synchronized (this) {
          task = held.poll();
          if (task == null) {
            shut = false;
            return;
          }
        }
        task.run();
      }
    }
  }

  /**
   * The caller's credentials, which hold the call's first stream until the test lets it go on,
   * and pass the later ones at once.
   */
  private static final class HeldCredentials extends CallCredentials {
    final CompletableFuture<MetadataApplier> applier = new CompletableFuture<>();

    @Override
    public void applyRequestMetadata(RequestInfo info, Executor executor, MetadataApplier applier) {
      if (!this.applier.complete(applier)) {
        applier.apply(new Metadata());
      }
    }
  }

  /**
   * Inside each channel: completes {@link #firstEnded} once the first call's end has been handed
   * to the persistent channel, which by then has decided whether the call moves.
   */
  private final CompletableFuture<Status> firstEnded = new CompletableFuture<>();

  /** Completes once the first transport of a channel terminated: its socket is closed. */
  private final CompletableFuture<Void> firstTransportEnded = new CompletableFuture<>();

  private final ClientTransportFilter transportEnded =
      new ClientTransportFilter() {
        @Override
        public void transportTerminated(io.grpc.Attributes transportAttrs) {
          firstTransportEnded.complete(null);
        }
      };

  private final ClientInterceptor handedTheEnd =
      new ClientInterceptor() {
        @Override
        public <Q, R> ClientCall<Q, R> interceptCall(
            MethodDescriptor<Q, R> method, CallOptions options, Channel next) {
          return new ForwardingClientCall.SimpleForwardingClientCall<Q, R>(next.newCall(method, options)) {
            @Override
            public void start(Listener<R> listener, Metadata headers) {
              super.start(
                  new ForwardingClientCallListener.SimpleForwardingClientCallListener<R>(listener) {
                    @Override
                    public void onClose(Status status, Metadata trailers) {
                      super.onClose(status, trailers);
                      if (method.getFullMethodName().equals(Echo.SAY.getFullMethodName())) {
                        firstEnded.complete(status);
                      }
                    }
                  },
                  headers);
            }
          };
        }
      };

  @Test
  void unsentCall_refusedAfterItsChannelLeftReady_beforeTheDropIsNoticed_moves() throws Exception {
    Server first = servers.netty("A", 0);
    address.set(Servers.address(first));
    connection.connected().get(10, TimeUnit.SECONDS);
    GrpcConnection<HostAndPort> old =
        java.util.Objects.requireNonNull(connection.currentConnection());

    HeldCredentials credentials = new HeldCredentials();
    ClientCall<String, String> call =
        channel.newCall(
            Echo.SAY,
            CallOptions.DEFAULT
                .withWaitForReady()
                .withDeadlineAfter(10, TimeUnit.SECONDS)
                .withCallCredentials(credentials)
                .withExecutor(MoreExecutors.directExecutor()));
    CompletableFuture<Status> closed = new CompletableFuture<>();
    CompletableFuture<String> answer = new CompletableFuture<>();
    call.start(Streams.listener(answer::complete, closed), new Metadata());
    call.request(1);
    call.sendMessage("x");
    call.halfClose();
    CallCredentials.MetadataApplier applier = credentials.applier.get(10, TimeUnit.SECONDS);

    gate.shut(); // the channel's callbacks, the drop's among them, wait from here on
    first.shutdownNow();
    // The only callback of the channel's own executor here is the one that tells the connection
    // its channel left READY: once it is held, the drop happened and is not noticed.
    gate.holds.get(10, TimeUnit.SECONDS);
    // And the call's transport is closed: its stream cannot be written out, even partly.
    firstTransportEnded.get(10, TimeUnit.SECONDS);
    assertFalse(old.isReady(), "the channel left READY");
    assertFalse(old.isClosed(), "the connection has not noticed yet");

    applier.apply(new Metadata()); // the transport is gone: the stream is refused, unsent
    Status refused = firstEnded.get(10, TimeUnit.SECONDS);
    assertEquals(Status.Code.UNAVAILABLE, refused.getCode(), refused.toString());
    @Nullable Status early = closed.getNow(null);
    assertTrue(early == null, "the call ended rather than move: " + early);

    address.set(Servers.address(servers.netty("B", 0)));
    gate.open(); // the drop is noticed, the next connection comes, and the call runs on it
    assertEquals("B: x", answer.get(10, TimeUnit.SECONDS));
    assertEquals(Status.Code.OK, closed.get(10, TimeUnit.SECONDS).getCode());
  }
}
