package dev.tether.grpc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static java.util.Objects.requireNonNull;

import com.google.common.util.concurrent.ListenableFuture;
import com.google.common.net.HostAndPort;
import com.google.common.util.concurrent.SettableFuture;
import io.grpc.CallOptions;
import io.grpc.ClientCall;
import io.grpc.ConnectivityState;
import io.grpc.ForwardingClientCall;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import io.grpc.ManagedChannel;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * A connect attempt always ends, and a failed one always shuts its channel down at once, even when
 * the channel or the scheduler misbehaves.
 */
class ConnectAttemptTest {
  @RegisterExtension final Servers servers = new Servers();

  /** A channel that claims to be connecting forever and whose getState(false) throws. */
  private static final class NeverReadyThenBroken extends ForwardingManagedChannel {
    NeverReadyThenBroken(ManagedChannel delegate) {
      super(delegate);
    }

    @Override
    public ConnectivityState getState(boolean requestConnection) {
      if (requestConnection) {
        return ConnectivityState.CONNECTING;
      }
      throw new IllegalStateException("getState broke");
    }

    @Override
    public void notifyWhenStateChanged(ConnectivityState source, Runnable callback) {
      // never called back: the channel never leaves CONNECTING
    }
  }

  @Test
  void timeout_failsTheAttempt_evenWhenReadingTheStateForItsMessageThrows() throws Exception {
    servers.inProcess("never-ready");
    RecordingFactory<String> channels =
        new RecordingFactory<>(ChannelFactory.inProcess(), NeverReadyThenBroken::new);
    ListenableFuture<GrpcConnection<String>> attempt =
        GrpcConnector.builder(channels)
            .connectTimeout(Duration.ofMillis(100))
            .build()
            .connect("never-ready");

    ExecutionException failed =
        assertThrows(ExecutionException.class, () -> attempt.get(10, TimeUnit.SECONDS));
    TimeoutException timeout = assertInstanceOf(TimeoutException.class, failed.getCause());
    String message = String.valueOf(timeout.getMessage());
    assertTrue(message.contains("connect timeout of PT0.1S"), message);
    assertTrue(message.contains("getState broke"), message);
    ManagedChannel channel = channels.created().get(0);
    assertTrue(channel.isShutdown(), "the timed-out attempt's channel");
    assertTrue(channel.awaitTermination(10, TimeUnit.SECONDS));
    assertEquals(1, channels.created().size());
  }

  /** A channel whose getState throws: the attempt fails as it starts. */
  private static final class BrokenState extends ForwardingManagedChannel {
    BrokenState(ManagedChannel delegate) {
      super(delegate);
    }

    @Override
    public ConnectivityState getState(boolean requestConnection) {
      throw new IllegalStateException("getState broke");
    }
  }

  /**
   * Starts an attempt that fails before it could wait for anything, and returns its error,
   * whether {@code connect} threw it or returned it failed; checks that the channel was shut down
   * by the time {@code connect} returned.
   */
  private static Throwable failsAtOnce(GrpcConnector<String> connector, RecordingFactory<String> channels)
      throws Exception {
    ListenableFuture<GrpcConnection<String>> attempt;
    try {
      attempt = connector.connect("up");
    } catch (RuntimeException e) {
      assertTrue(channels.created().get(0).isShutdown(), "shut down before connect threw");
      return e;
    }
    assertTrue(channels.created().get(0).isShutdown(), "shut down before connect returned");
    ExecutionException failed =
        assertThrows(ExecutionException.class, () -> attempt.get(10, TimeUnit.SECONDS));
    return requireNonNull(failed.getCause());
  }

  @Test
  void aSchedulerThatThrows_failsTheAttempt_andTheChannelIsShutDownAtOnce() throws Exception {
    servers.inProcess("up");
    RecordingFactory<String> channels = new RecordingFactory<>(ChannelFactory.inProcess());
    ScheduledThreadPoolExecutor broken =
        new ScheduledThreadPoolExecutor(1) {
          @Override
          public ScheduledFuture<?> schedule(Runnable command, long delay, TimeUnit unit) {
            throw new IllegalStateException("scheduler broke");
          }
        };
    try {
      Throwable error =
          failsAtOnce(GrpcConnector.builder(channels).scheduler(broken).build(), channels);
      assertEquals("scheduler broke", error.getMessage());
      assertTrue(channels.created().get(0).awaitTermination(10, TimeUnit.SECONDS));
    } finally {
      broken.shutdownNow();
    }
  }

  @Test
  void aChannelThatBreaksAsTheAttemptStarts_isShutDownAtOnce() throws Exception {
    servers.inProcess("up");
    RecordingFactory<String> channels =
        new RecordingFactory<>(ChannelFactory.inProcess(), BrokenState::new);
    Throwable error =
        failsAtOnce(
            GrpcConnector.builder(channels).connectTimeout(Duration.ofMinutes(5)).build(), channels);
    assertEquals("getState broke", error.getMessage());
    assertTrue(channels.created().get(0).awaitTermination(10, TimeUnit.SECONDS));
  }

  @Test
  void hugeTimeouts_meanNoTimeout_ratherThanAnOverflow() throws Exception {
    servers.inProcess("up");
    RecordingFactory<String> channels = new RecordingFactory<>(ChannelFactory.inProcess());
    GrpcConnection<String> connection =
        GrpcConnector.builder(channels)
            .connectTimeout(Duration.ofSeconds(Long.MAX_VALUE))
            .shutdownGrace(Duration.ofSeconds(Long.MAX_VALUE))
            .build()
            .connect("up")
            .get(10, TimeUnit.SECONDS);
    assertEquals("up: hi", new Echo.Stub(connection.channel()).say("hi"));
    connection.close().get(10, TimeUnit.SECONDS);
    assertTrue(channels.created().get(0).isTerminated());
  }

  @Test
  void hugeKeepAliveTimes_meanNoKeepAlive_ratherThanAnOverflow() throws Exception {
    io.grpc.Server server = servers.netty("up", 0);
    GrpcConnection<HostAndPort> connection =
        GrpcConnector.builder(ChannelFactory.plaintext())
            .keepAlive(Duration.ofSeconds(Long.MAX_VALUE), Duration.ofSeconds(Long.MAX_VALUE), false)
            .build()
            .connect(Servers.address(server))
            .get(10, TimeUnit.SECONDS);
    assertEquals("up: hi", new Echo.Stub(connection.channel()).say("hi"));
    connection.close().get(10, TimeUnit.SECONDS);
  }

  /** A name resolver that always fails with {@code INVALID_ARGUMENT}, as a control plane may. */
  private static final class FailingResolverProvider extends io.grpc.NameResolverProvider {
    static final String SCHEME = "tether-failing-resolver";

    @Override
    public io.grpc.NameResolver newNameResolver(java.net.URI target, io.grpc.NameResolver.Args args) {
      return new io.grpc.NameResolver() {
        @Override
        public String getServiceAuthority() {
          return "failing";
        }

        @Override
        public void start(Listener2 listener) {
          listener.onError(Status.INVALID_ARGUMENT.withDescription("no such resource: x"));
        }

        @Override
        public void shutdown() {}
      };
    }

    @Override
    public String getDefaultScheme() {
      return SCHEME;
    }

    @Override
    protected boolean isAvailable() {
      return true;
    }

    @Override
    protected int priority() {
      return 5;
    }
  }

  @Test
  void aResolverThatFailsWithAStatusACallCannotCarry_failsTheAttemptAtOnce_namingIt() throws Exception {
    FailingResolverProvider provider = new FailingResolverProvider();
    io.grpc.NameResolverRegistry.getDefaultRegistry().register(provider);
    try {
      long started = System.nanoTime();
      ListenableFuture<GrpcConnection<String>> attempt =
          GrpcConnector.builder(ChannelFactory.target(io.grpc.InsecureChannelCredentials.create()))
              .connectTimeout(Duration.ofSeconds(30))
              .build()
              .connect(FailingResolverProvider.SCHEME + ":///x");

      // Its probe call fails INTERNAL (gRPC does not let a call carry a control plane's
      // INVALID_ARGUMENT), not UNAVAILABLE, while the channel stays in TRANSIENT_FAILURE.
      ExecutionException failed =
          assertThrows(ExecutionException.class, () -> attempt.get(20, TimeUnit.SECONDS));
      assertTrue(
          System.nanoTime() - started < TimeUnit.SECONDS.toNanos(15),
          "failed at once, not at the connect timeout");
      Throwable cause = requireNonNull(failed.getCause());
      assertTrue(String.valueOf(cause.getMessage()).contains("no such resource: x"), cause.toString());
    } finally {
      io.grpc.NameResolverRegistry.getDefaultRegistry().deregister(provider);
    }
  }

  /**
   * A channel whose calls, as they start, first run {@code beforeStart} (which plays another
   * thread ending the attempt at that moment), and which records what reaches the real call.
   */
  private static final class Watching extends ForwardingManagedChannel {
    final List<String> reached = new CopyOnWriteArrayList<>();
    final SettableFuture<Runnable> beforeStart = SettableFuture.create();
    final SettableFuture<Void> cancelled = SettableFuture.create();

    Watching(ManagedChannel delegate) {
      super(delegate);
    }

    @Override
    public <ReqT, RespT> ClientCall<ReqT, RespT> newCall(
        MethodDescriptor<ReqT, RespT> method, CallOptions options) {
      return new ForwardingClientCall.SimpleForwardingClientCall<>(super.newCall(method, options)) {
        @Override
        public void start(Listener<RespT> listener, Metadata headers) {
          try {
            requireNonNull(beforeStart.get(10, TimeUnit.SECONDS)).run();
          } catch (Exception e) {
            throw new AssertionError(e);
          }
          try {
            super.start(listener, headers);
            reached.add("start");
          } catch (RuntimeException e) {
            reached.add("start threw " + e);
          }
        }

        @Override
        public void cancel(@Nullable String message, @Nullable Throwable cause) {
          reached.add("cancel");
          super.cancel(message, cause);
          cancelled.set(null);
        }
      };
    }
  }

  @Test
  void theProbe_isCancelledOnlyOnceStarted_whenTheAttemptEndsAsItStarts() throws Exception {
    int port = FailureCausesTest.deadPort();
    List<Watching> watching = new CopyOnWriteArrayList<>();
    RecordingFactory<HostAndPort> channels =
        new RecordingFactory<>(
            ChannelFactory.plaintext(),
            channel -> {
              Watching w = new Watching(channel);
              watching.add(w);
              return w;
            });
    ListenableFuture<GrpcConnection<HostAndPort>> attempt =
        GrpcConnector.create(channels).connect(HostAndPort.fromParts("127.0.0.1", port));
    // The refused connect shows TRANSIENT_FAILURE and the attempt starts its probe; just then,
    // the attempt is cancelled (the persistent connection closing, say).
    watching.get(0).beforeStart.set(() -> attempt.cancel(false));

    assertThrows(CancellationException.class, () -> attempt.get(10, TimeUnit.SECONDS));
    ManagedChannel channel = channels.created().get(0);
    assertTrue(channel.awaitTermination(10, TimeUnit.SECONDS));
    // The cancel reaches the probe on the probe's thread, maybe after the future failed.
    watching.get(0).cancelled.get(10, TimeUnit.SECONDS);
    assertEquals(List.of("start", "cancel"), List.copyOf(watching.get(0).reached));
  }
}
