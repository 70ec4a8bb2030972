package dev.tether.grpc;

import com.google.common.collect.ImmutableList;
import com.google.common.util.concurrent.ListenableFuture;
import dev.tether.Closable;
import dev.tether.internal.Durations;
import dev.tether.internal.Retirable;
import dev.tether.internal.UncancellableFuture;
import io.grpc.Channel;
import io.grpc.ClientInterceptor;
import io.grpc.ClientInterceptors;
import io.grpc.ConnectivityState;
import io.grpc.ManagedChannel;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A connected gRPC channel, as {@link GrpcConnector} yields it: the {@link ManagedChannel} of one
 * successful attempt and the address it was built for.
 *
 * <p><b>This connection closes itself when its channel leaves READY</b>, which is how a
 * persistent connection learns that the transport went away (server shutdown or GOAWAY, TCP
 * close or reset, a keepalive that went unanswered). Idle mode is off on every channel the
 * connector builds, so leaving READY always means that. On such a drop the connection takes no
 * new calls, shuts the channel down gracefully (calls still running on a draining transport may
 * finish), and completes {@link #closeFinished()} at once, so that a reconnect is never held up
 * by stragglers; a channel that has not terminated after the shutdown grace is forced down with
 * {@code shutdownNow()}.
 *
 * <p>{@link #close()} shuts the channel down gracefully and completes {@link #closeFinished()}
 * once the channel has terminated, forcing {@code shutdownNow()} after the shutdown grace. A
 * persistent connection's handover {@linkplain #retire() retires} the connection it replaced
 * instead: closed at once for new calls, its channel shut down a second later.
 *
 * <p>The connection owns its channel: do not shut the channel down yourself, close the
 * connection (or better, the persistent connection that owns it).
 *
 * @param <A> the address type
 */
public final class GrpcConnection<A> implements Closable, Retirable {
  private static final Logger logger = LoggerFactory.getLogger(GrpcConnection.class);
  /** How long a retired connection's channel still takes calls: 1 s. */
  static final long RETIRE_GRACE_NANOS = TimeUnit.SECONDS.toNanos(1);
  /** How often a closing channel is checked for termination. */
  private static final long TERMINATION_POLL_NANOS = TimeUnit.MILLISECONDS.toNanos(10);

  /** The raw channel: watched, shut down, and never given interceptors. */
  private final ManagedChannel channel;
  /** What {@link #channel()} returns: the raw channel, or it behind the customizers' interceptors. */
  private final ManagedChannel forCalls;
  /** Where a {@link PersistentChannel}'s moving calls go: {@link #forCalls}, then the seal. */
  private final Channel forMovingCalls;
  private final A address;
  private final long shutdownGraceNanos;
  private final ScheduledExecutorService scheduler;
  private final AtomicBoolean closed = new AtomicBoolean();
  /** Whether the channel was shut down (it is later than {@link #closed} for a retirement). */
  private final AtomicBoolean shutDown = new AtomicBoolean();
  private final UncancellableFuture<Void> closeFinished = new UncancellableFuture<>();
  /** Told once when this connection closes; each leaves when it no longer cares. */
  private final Set<Runnable> closeWatchers = ConcurrentHashMap.newKeySet();

  GrpcConnection(
      ManagedChannel channel,
      ImmutableList<ClientInterceptor> interceptors,
      A address,
      Duration shutdownGrace,
      ScheduledExecutorService scheduler) {
    this.channel = channel;
    this.forCalls = interceptors.isEmpty() ? channel : new InterceptedChannel(channel, interceptors);
    // The last in the list runs first: the seal runs last, after the customizers' interceptors.
    this.forMovingCalls =
        ClientInterceptors.intercept(
            channel,
            ImmutableList.<ClientInterceptor>builder()
                .add(CallAttempt.SEAL)
                .addAll(interceptors)
                .build());
    this.address = address;
    this.shutdownGraceNanos = Durations.saturatedNanos(shutdownGrace);
    this.scheduler = scheduler;
  }

  /**
   * Starts watching the channel for leaving READY. Called once the channel was seen READY.
   *
   * <p>{@code notifyWhenStateChanged(READY, callback)} calls back only once the state differs
   * from READY (at once if it already does), so any callback means the channel left READY: that
   * is a drop, even if the state reads READY again by the time the callback runs (a READY, IDLE,
   * CONNECTING, READY blip between two looks, which a re-read would miss). The state is therefore
   * not read again and the callback is never re-armed. A channel that cannot be watched is
   * treated as dropped too: nobody would notice it go.
   */
  void watch() {
    try {
      channel.notifyWhenStateChanged(ConnectivityState.READY, this::dropped);
    } catch (Throwable t) {
      dropped();
    }
  }

  /**
   * Returns the channel. Build calls on it only while {@link #isReady()}. Calls made on it go
   * through the interceptors that the connector's customizers added, in the order the builder
   * would have applied them (the last added runs first); the connector's own connect probe does
   * not. Without such interceptors this is the channel the factory's builder built; with them, a
   * channel that forwards everything else (state, shutdown, termination) to that one.
   */
  public ManagedChannel channel() {
    return forCalls;
  }

  /**
   * {@link #channel()} for the attempts of a {@link PersistentChannel}'s moving calls: each such
   * call also gets the seal that keeps its stream from starting once a move has begun ({@link
   * CallAttempt}).
   */
  Channel channelForMoves() {
    return forMovingCalls;
  }

  /** Returns the address this connection's channel was built for. */
  public A address() {
    return address;
  }

  /** Returns whether the connection is open and its channel READY: whether new calls should go here. */
  public boolean isReady() {
    return !closed.get() && channel.getState(false) == ConnectivityState.READY;
  }

  private void dropped() {
    if (markClosed()) {
      // Shut down before closeFinished completes: the persistent connection's next round runs
      // in its listeners, on this thread. Watched until it terminates, and no longer, so that a
      // channel is not kept for the whole grace after its last call ended; forced down after
      // the grace.
      try {
        shutDown();
      } finally {
        closeFinished.set(null); // at once: a reconnect never waits for stragglers
      }
    }
  }

  @Override
  public ListenableFuture<Void> close() {
    markClosed();
    shutDown(); // also ends a retirement's grace
    return closeFinished;
  }

  /**
   * Closes this connection for new calls at once, as a handover does with the connection it
   * replaced: {@link #isClosed()} is true and the calls of a {@link PersistentChannel} that could
   * still move do; but the channel itself is shut down (gracefully, as by {@link #close()}) only
   * after a grace of 1 second on the connector's scheduler, so that a call that picked this
   * connection just before the switch still starts on it rather than meet a channel that refuses
   * it (grpc-java likewise delays the shutdown of a subchannel it stops using, for the same race).
   * A {@link #close()} during the grace shuts the channel down at once.
   */
  @Override
  public ListenableFuture<Void> retire() {
    if (markClosed()) {
      ScheduledFuture<?> unused = schedule(this::shutDown, RETIRE_GRACE_NANOS);
    }
    return closeFinished;
  }

  /** Closes this connection for new calls and tells its watchers, once; returns whether now. */
  private boolean markClosed() {
    if (!closed.compareAndSet(false, true)) {
      return false;
    }
    tellWatchers();
    return true;
  }

  /** Shuts the channel down gracefully, once, and sees to its end (see {@link #forceAfterTheGrace}). */
  private void shutDown() {
    if (shutDown.compareAndSet(false, true)) {
      channel.shutdown();
      forceAfterTheGrace();
    }
  }

  /**
   * Forces the channel, shut down, with {@code shutdownNow()} once the shutdown grace has passed
   * on the scheduler's clock (so that a virtual-time scheduler drives it too), and watches it
   * until it terminates, which completes {@link #closeFinished()}.
   */
  private void forceAfterTheGrace() {
    ScheduledFuture<?> force =
        schedule(
            () -> {
              if (!channel.isTerminated()) {
                channel.shutdownNow();
              }
            },
            shutdownGraceNanos);
    if (force != null) {
      awaitTermination(force);
    }
  }

  private void awaitTermination(ScheduledFuture<?> force) {
    if (channel.isTerminated()) {
      force.cancel(false);
      closeFinished.set(null);
      return;
    }
    ScheduledFuture<?> unused = schedule(() -> awaitTermination(force), TERMINATION_POLL_NANOS);
  }

  /**
   * Schedules {@code task}; if the scheduler refuses it (or fails otherwise: it throws, or returns
   * no future), forces the channel down now rather than leak it, completes {@link
   * #closeFinished()} and returns null.
   */
  private @Nullable ScheduledFuture<?> schedule(Runnable task, long delayNanos) {
    ScheduledFuture<?> scheduled;
    try {
      scheduled = scheduler.schedule(task, delayNanos, TimeUnit.NANOSECONDS);
    } catch (RuntimeException e) { // rejected, mostly: shut down
      scheduled = null;
    }
    if (scheduled == null) {
      channel.shutdownNow();
      closeFinished.set(null);
    }
    return scheduled;
  }

  /**
   * Runs {@code watcher} once this connection is closed (it closes itself on a drop), on the
   * adapter's shared pool, or at once on this thread if it is closed already. Unlike a listener of
   * {@link #closeFinished()}, a watcher can leave: {@link #removeCloseWatcher}. The calls of a
   * {@link PersistentChannel} watch their connection only while they could still move, so that a
   * long-lived connection holds nothing of calls that are done.
   */
  void addCloseWatcher(Runnable watcher) {
    closeWatchers.add(watcher);
    if (closed.get() && closeWatchers.remove(watcher)) {
      watcher.run();
    }
  }

  /** Stops {@code watcher} from being told; does nothing if it was told already. */
  void removeCloseWatcher(Runnable watcher) {
    closeWatchers.remove(watcher);
  }

  /**
   * Tells each watcher once, on the shared pool (never in the loop of the persistent connection
   * that closes this one); a watcher added from now on runs at once in {@link #addCloseWatcher}.
   */
  private void tellWatchers() {
    if (!closeWatchers.isEmpty()) {
      Calls.execute(Calls.sharedPool(), this::runWatchers);
    }
  }

  private void runWatchers() {
    for (Runnable watcher : closeWatchers) {
      if (closeWatchers.remove(watcher)) {
        try {
          watcher.run();
        } catch (Throwable e) { // it cancels calls through the user's interceptors
          logger.error("a close watcher of {} failed", this, e);
        }
      }
    }
  }

  @Override
  public boolean isClosed() {
    return closed.get();
  }

  @Override
  public ListenableFuture<Void> closeFinished() {
    return closeFinished;
  }

  @Override
  public String toString() {
    return "GrpcConnection[" + address + ", " + channel.getState(false) + "]";
  }
}
