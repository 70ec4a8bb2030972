package dev.tether.grpc;

import static com.google.common.base.Preconditions.checkArgument;
import static com.google.common.base.Preconditions.checkState;
import static java.util.Objects.requireNonNull;

import com.google.common.collect.ImmutableList;
import com.google.common.util.concurrent.ListenableFuture;
import dev.tether.Connector;
import dev.tether.PersistentConnection;
import dev.tether.internal.DefaultScheduler;
import dev.tether.internal.Durations;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.jspecify.annotations.Nullable;

/**
 * Connects to a gRPC server by building a <b>new {@link ManagedChannel} for every attempt</b>, so
 * that every attempt uses the address just looked up, and the persistent connection, not gRPC's
 * own backoff, decides when to try again.
 *
 * <p>For each attempt the connector gets a builder from its {@link ChannelFactory}, applies the
 * keepalive settings and customizers, turns idle mode off ({@code idleTimeout} of 30 days, after
 * the customizers, so that it stays off: IDLE after READY then always means the transport went
 * away), builds the channel and asks it to connect. The attempt succeeds with a {@link
 * GrpcConnection} when the channel reaches READY within the connect timeout. It fails on the first
 * TRANSIENT_FAILURE with the transport's real cause (connection refused, a TLS handshake
 * failure), or with a {@link java.util.concurrent.TimeoutException} when the timeout runs out. A
 * failed or cancelled attempt shuts its channel down at once.
 *
 * <p>Defaults: connect timeout {@value GrpcConnector#DEFAULT_CONNECT_TIMEOUT_SECONDS} s (gRPC's minimum
 * connect timeout), shutdown grace {@value GrpcConnector#DEFAULT_SHUTDOWN_GRACE_SECONDS} s, keepalive off, the
 * shared Tether scheduler for timers. Instances are immutable and thread-safe.
 *
 * @param <A> the address type
 */
public final class GrpcConnector<A> implements Connector<A, GrpcConnection<A>> {
  /** The default connect timeout, in seconds. */
  public static final int DEFAULT_CONNECT_TIMEOUT_SECONDS = 20;

  /** The default shutdown grace, in seconds. */
  public static final int DEFAULT_SHUTDOWN_GRACE_SECONDS = 5;

  /** {@code idleTimeout} values of 30 days or more turn idle mode off. */
  private static final long IDLE_OFF_DAYS = 30;

  private final ChannelFactory<A> channels;
  private final Duration connectTimeout;
  private final Duration shutdownGrace;
  private final @Nullable KeepAlive keepAlive;
  private final ImmutableList<Consumer<? super ManagedChannelBuilder<?>>> customizers;
  private final ScheduledExecutorService scheduler;

  private record KeepAlive(Duration time, Duration timeout, boolean withoutCalls) {}

  private GrpcConnector(Builder<A> builder) {
    this.channels = builder.channels;
    this.connectTimeout = builder.connectTimeout;
    this.shutdownGrace = builder.shutdownGrace;
    this.keepAlive = builder.keepAlive;
    this.customizers = ImmutableList.copyOf(builder.customizers);
    ScheduledExecutorService scheduler = builder.scheduler;
    this.scheduler = scheduler != null ? scheduler : DefaultScheduler.get();
  }

  /** Returns a connector with the default settings. */
  public static <A> GrpcConnector<A> create(ChannelFactory<A> channels) {
    return builder(channels).build();
  }

  /** Returns a builder of a connector that gets its channel builders from {@code channels}. */
  public static <A> Builder<A> builder(ChannelFactory<A> channels) {
    return new Builder<>(channels);
  }

  /**
   * Returns a persistent connection builder with a default connector for {@code channels} already
   * set: add an address lookup and build.
   *
   * <pre>{@code
   * PersistentConnection<HostAndPort, GrpcConnection<HostAndPort>> orders =
   *     GrpcConnector.persistentConnection("orders", ChannelFactory.plaintext())
   *         .addressLookup(() -> catalog.find("orders"))
   *         .build();
   * }</pre>
   */
  public static <A> PersistentConnection.Builder<A, GrpcConnection<A>> persistentConnection(
      String serverName, ChannelFactory<A> channels) {
    return create(channels).persistentConnection(serverName);
  }

  /** Returns a persistent connection builder with this connector already set. */
  public PersistentConnection.Builder<A, GrpcConnection<A>> persistentConnection(
      String serverName) {
    return PersistentConnection.<A, GrpcConnection<A>>builder(serverName).connector(this);
  }

  /**
   * Builds a new channel for {@code address} and connects it; see the class documentation.
   *
   * @throws IllegalArgumentException if the factory rejects the address (a {@code HostAndPort}
   *     without a port, say); the persistent connection reports it as a failed attempt
   */
  @Override
  public ListenableFuture<GrpcConnection<A>> connect(A address) {
    requireNonNull(address, "address");
    ManagedChannelBuilder<?> builder =
        requireNonNull(channels.newChannelBuilder(address), "ChannelFactory returned null");
    KeepAlive keepAlive = this.keepAlive;
    if (keepAlive != null) {
      builder // saturated: gRPC reads Long.MAX_VALUE nanoseconds as "never"
          .keepAliveTime(Durations.saturatedNanos(keepAlive.time()), TimeUnit.NANOSECONDS)
          .keepAliveTimeout(Durations.saturatedNanos(keepAlive.timeout()), TimeUnit.NANOSECONDS)
          .keepAliveWithoutCalls(keepAlive.withoutCalls());
    }
    InterceptorRecorder customizing = new InterceptorRecorder(builder);
    for (Consumer<? super ManagedChannelBuilder<?>> customizer : customizers) {
      customizer.accept(customizing);
    }
    builder.idleTimeout(IDLE_OFF_DAYS, TimeUnit.DAYS);
    ManagedChannel channel = builder.build();
    try {
      return new ConnectAttempt<>(
              channel, customizing.interceptors(), address, connectTimeout, shutdownGrace, scheduler)
          .start();
    } catch (Throwable t) {
      // The attempt never throws once it owns the channel; whatever threw before that must not
      // leave the channel to run until the garbage collector complains.
      channel.shutdownNow();
      throw t;
    }
  }

  @Override
  public String toString() {
    return "GrpcConnector[connectTimeout=" + connectTimeout + ", keepAlive=" + keepAlive + "]";
  }

  /**
   * Builds a {@link GrpcConnector}. Each option may be set once, except {@link #customizer},
   * which adds one each time; arguments are checked at once.
   *
   * @param <A> the address type
   */
  public static final class Builder<A> {
    private final ChannelFactory<A> channels;
    private Duration connectTimeout = Duration.ofSeconds(DEFAULT_CONNECT_TIMEOUT_SECONDS);
    private boolean connectTimeoutSet;
    private Duration shutdownGrace = Duration.ofSeconds(DEFAULT_SHUTDOWN_GRACE_SECONDS);
    private boolean shutdownGraceSet;
    private @Nullable KeepAlive keepAlive;
    private final List<Consumer<? super ManagedChannelBuilder<?>>> customizers = new ArrayList<>();
    private @Nullable ScheduledExecutorService scheduler;

    private Builder(ChannelFactory<A> channels) {
      this.channels = requireNonNull(channels, "channels");
    }

    /**
     * Sets how long an attempt may wait for its channel to become READY. Default {@value
     * GrpcConnector#DEFAULT_CONNECT_TIMEOUT_SECONDS} s. A timeout too long to count in
     * nanoseconds (about 292 years) waits that long: effectively for ever.
     *
     * @throws IllegalArgumentException if {@code timeout} is not positive
     */
    public Builder<A> connectTimeout(Duration timeout) {
      requireNonNull(timeout, "timeout");
      checkArgument(!timeout.isNegative() && !timeout.isZero(), "connectTimeout must be positive: %s", timeout);
      checkState(!connectTimeoutSet, "connectTimeout was already set");
      connectTimeoutSet = true;
      this.connectTimeout = timeout;
      return this;
    }

    /**
     * Sets how long a closing or dropped channel may drain its calls before it is forced down
     * with {@code shutdownNow()}. Default {@value GrpcConnector#DEFAULT_SHUTDOWN_GRACE_SECONDS} s.
     * A grace too long to count in nanoseconds (about 292 years) never forces the channel down.
     *
     * @throws IllegalArgumentException if {@code grace} is negative
     */
    public Builder<A> shutdownGrace(Duration grace) {
      requireNonNull(grace, "grace");
      checkArgument(!grace.isNegative(), "shutdownGrace must not be negative: %s", grace);
      checkState(!shutdownGraceSet, "shutdownGrace was already set");
      shutdownGraceSet = true;
      this.shutdownGrace = grace;
      return this;
    }

    /**
     * Turns keepalive on: a ping after {@code time} without reads, and the transport is dropped
     * if no answer comes within {@code timeout}, so a half-open connection is noticed and
     * replaced. gRPC raises {@code time} to at least 10 s. The server must permit it ({@code
     * permitKeepAliveTime} and, with {@code withoutCalls}, {@code permitKeepAliveWithoutCalls}),
     * or it answers with GOAWAY {@code too_many_pings}. In-process channels ignore keepalive.
     * Off by default.
     */
    public Builder<A> keepAlive(Duration time, Duration timeout, boolean withoutCalls) {
      requireNonNull(time, "time");
      requireNonNull(timeout, "timeout");
      checkArgument(!time.isNegative() && !time.isZero(), "keepAlive time must be positive: %s", time);
      checkArgument(
          !timeout.isNegative() && !timeout.isZero(), "keepAlive timeout must be positive: %s", timeout);
      checkState(keepAlive == null, "keepAlive was already set");
      this.keepAlive = new KeepAlive(time, timeout, withoutCalls);
      return this;
    }

    /**
     * Adds a customizer that every channel builder passes through before its channel is built:
     * interceptors, message limits, executors, user agent. Customizers run in the order added,
     * after the keepalive settings; idle mode is turned off after them.
     *
     * <p>A customizer gets a {@link ManagedChannelBuilder} that forwards to the factory's builder,
     * not that builder itself: do not cast it to a transport's builder (set transport-specific
     * options in a {@link ChannelFactory}), and do not build it (that throws). Interceptors it
     * adds with {@code intercept(...)} apply to the calls made on {@link GrpcConnection#channel()}
     * (and so through {@link PersistentChannel}) in the order the builder would apply them, but
     * not to the call by which the connector learns why a connect failed: a failed attempt never
     * reaches them.
     */
    public Builder<A> customizer(Consumer<? super ManagedChannelBuilder<?>> customizer) {
      customizers.add(requireNonNull(customizer, "customizer"));
      return this;
    }

    /**
     * Sets the scheduler of the connect timeout and the shutdown grace. Default: the scheduler
     * Tether shares between its persistent connections.
     */
    public Builder<A> scheduler(ScheduledExecutorService scheduler) {
      requireNonNull(scheduler, "scheduler");
      checkState(this.scheduler == null, "scheduler was already set");
      this.scheduler = scheduler;
      return this;
    }

    /** Builds the connector. */
    public GrpcConnector<A> build() {
      return new GrpcConnector<>(this);
    }
  }
}
