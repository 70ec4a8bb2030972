package dev.tether.grpc;

import static com.google.common.util.concurrent.MoreExecutors.directExecutor;

import com.google.common.collect.ImmutableList;
import com.google.common.util.concurrent.ListenableFuture;
import com.google.common.util.concurrent.SettableFuture;
import dev.tether.internal.Durations;
import io.grpc.CallOptions;
import io.grpc.ClientCall;
import io.grpc.ClientInterceptor;
import io.grpc.ConnectivityState;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.time.Duration;
import java.util.concurrent.Future;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import org.jspecify.annotations.Nullable;

/**
 * One connection attempt of a {@link GrpcConnector}: asks a fresh channel to connect and waits
 * until it is READY, fails, or the connect timeout runs out. Whatever the outcome other than
 * success, including cancellation, the channel is shut down at once: before the returned future
 * fails, or, on cancellation, before {@code cancel} returns.
 *
 * <p>A channel's state carries no cause, so on the first TRANSIENT_FAILURE the attempt makes one
 * fail-fast call on the channel: it fails at once with UNAVAILABLE whose cause is the transport's
 * error (connection refused, a TLS handshake failure), and that cause fails the attempt. The probe
 * goes to the raw channel, which the customizers' interceptors never wrap: users' interceptors
 * see only users' calls, and none of them can change or hide the probe's outcome.
 */
final class ConnectAttempt<A> {
  /** A method no server implements; calls to it only ever fail, fast. */
  private static final MethodDescriptor<byte[], byte[]> PROBE =
      MethodDescriptor.<byte[], byte[]>newBuilder()
          .setType(MethodDescriptor.MethodType.UNARY)
          .setFullMethodName("dev.tether.grpc.ConnectProbe/Probe")
          .setRequestMarshaller(Bytes.INSTANCE)
          .setResponseMarshaller(Bytes.INSTANCE)
          .build();

  /** The raw channel, without the customizers' interceptors: the probe must not meet them. */
  private final ManagedChannel channel;
  private final ImmutableList<ClientInterceptor> interceptors;
  private final A address;
  private final Duration connectTimeout;
  private final Duration shutdownGrace;
  private final ScheduledExecutorService scheduler;
  private final SettableFuture<GrpcConnection<A>> result = SettableFuture.create();
  private volatile @Nullable Future<?> timeout;
  private volatile @Nullable ClientCall<byte[], byte[]> probe;
  /**
   * Set once, by whichever ends the attempt first: READY, a failure, the timeout, or the caller's
   * cancel. Only that one touches the channel's fate, so a late failure never shuts down the
   * channel of a connection already handed out.
   */
  private final AtomicBoolean ended = new AtomicBoolean();

  ConnectAttempt(
      ManagedChannel channel,
      ImmutableList<ClientInterceptor> interceptors,
      A address,
      Duration connectTimeout,
      Duration shutdownGrace,
      ScheduledExecutorService scheduler) {
    this.channel = channel;
    this.interceptors = interceptors;
    this.address = address;
    this.connectTimeout = connectTimeout;
    this.shutdownGrace = shutdownGrace;
    this.scheduler = scheduler;
  }

  /**
   * Starts the attempt and returns its future. Never throws: whatever goes wrong here (a
   * scheduler that rejects or breaks, a channel that throws) fails the future, the channel
   * already shut down.
   */
  ListenableFuture<GrpcConnection<A>> start() {
    result.addListener(this::cancelled, directExecutor());
    try {
      timeout =
          scheduler.schedule(
              this::timedOut, Durations.saturatedNanos(connectTimeout), TimeUnit.NANOSECONDS);
    } catch (Throwable t) {
      fail(t);
      return result;
    }
    check();
    return result;
  }

  /**
   * Looks at the channel's state and acts on it; runs at the start and then as the state's
   * callback, on a channel's thread. Whatever the channel throws fails the attempt.
   */
  private void check() {
    if (ended.get()) {
      return;
    }
    try {
      ConnectivityState state = channel.getState(true); // true: an IDLE channel starts connecting
      switch (state) {
        case READY -> succeed();
        case TRANSIENT_FAILURE -> probeCause();
        case SHUTDOWN -> fail(new IllegalStateException("channel was shut down while connecting"));
        case IDLE, CONNECTING -> channel.notifyWhenStateChanged(state, this::check);
      }
    } catch (Throwable t) {
      fail(t);
    }
  }

  /**
   * Makes the probe call. It is published for {@link #stopWaiting} only once started: a call must
   * not be cancelled from another thread while it starts (gRPC's retriable stream then fails with
   * a NullPointerException), and one cancelled before it starts refuses to start. If the attempt
   * ended meanwhile, whoever ended it may have missed the probe: this cancels it then.
   */
  private void probeCause() {
    ClientCall<byte[], byte[]> call = channel.newCall(PROBE, CallOptions.DEFAULT);
    call.start(
        new ClientCall.Listener<byte[]>() {
          @Override
          public void onClose(Status status, Metadata trailers) {
            if (status.getCode() == Status.Code.UNAVAILABLE) {
              Throwable cause = status.getCause();
              fail(cause != null ? cause : status.asException());
            } else if (stillFailing()) {
              // The channel's failure, as a call sees it: a resolver's or a load balancer's
              // status that gRPC does not let a call carry (INVALID_ARGUMENT becomes INTERNAL,
              // say). Probing again would only spin until the connect timeout.
              fail(status.asException());
            } else {
              check(); // the channel left TRANSIENT_FAILURE meanwhile: look again
            }
          }
        },
        new Metadata());
    probe = call;
    if (ended.get()) {
      call.cancel("connect attempt finished", null);
    }
  }

  /** Whether the channel still reads TRANSIENT_FAILURE (or cannot tell). */
  private boolean stillFailing() {
    try {
      return channel.getState(false) == ConnectivityState.TRANSIENT_FAILURE;
    } catch (Throwable t) {
      return true; // a channel that cannot tell: fail with what the probe got
    }
  }

  /** Fails the attempt, whatever reading the channel's state for the message does. */
  private void timedOut() {
    String lastState;
    try {
      lastState = String.valueOf(channel.getState(false));
    } catch (Throwable t) {
      lastState = "unknown: getState threw " + t;
    }
    fail(
        new TimeoutException(
            "channel not READY within the connect timeout of "
                + connectTimeout
                + " (last state: "
                + lastState
                + ")"));
  }

  /** Ends the attempt with a connection, unless it has ended already. */
  private void succeed() {
    if (!ended.compareAndSet(false, true)) {
      return;
    }
    stopWaiting();
    GrpcConnection<A> connection =
        new GrpcConnection<>(channel, interceptors, address, shutdownGrace, scheduler);
    // Watched before it is handed out: the persistent connection's step runs in the result's
    // listeners, on this thread, and a drop in that time (even one that a call reconnected in
    // the same channel) must still count as a drop.
    connection.watch();
    if (!result.set(connection)) {
      channel.shutdownNow(); // cancelled meanwhile; the watch sees it go and closes the connection
    }
  }

  /**
   * Ends the attempt with {@code error}, unless it has ended already. The channel is shut down
   * before the future fails, so whoever sees the failure sees the channel shut down.
   */
  private void fail(Throwable error) {
    if (!ended.compareAndSet(false, true)) {
      return;
    }
    try {
      stopWaiting();
      channel.shutdownNow();
    } finally {
      result.setException(error);
    }
  }

  /** The caller cancelled the attempt: shut the channel down, unless the attempt had ended. */
  private void cancelled() {
    if (result.isCancelled() && ended.compareAndSet(false, true)) {
      try {
        stopWaiting();
      } finally {
        channel.shutdownNow();
      }
    }
  }

  private void stopWaiting() {
    Future<?> timer = timeout;
    if (timer != null) {
      timer.cancel(false);
    }
    ClientCall<byte[], byte[]> call = probe;
    if (call != null) {
      call.cancel("connect attempt finished", null);
    }
  }

  /** Passes bytes through unchanged; the probe never sends or receives any. */
  private enum Bytes implements MethodDescriptor.Marshaller<byte[]> {
    INSTANCE;

    @Override
    public InputStream stream(byte[] value) {
      return new ByteArrayInputStream(value);
    }

    @Override
    public byte[] parse(InputStream stream) {
      try {
        return stream.readAllBytes();
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
  }
}
