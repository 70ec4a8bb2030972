package dev.tether.grpc;

import static com.google.common.util.concurrent.MoreExecutors.directExecutor;
import static java.util.Objects.requireNonNull;

import dev.tether.ConnectAttemptException;
import dev.tether.ConnectionState;
import dev.tether.Event;
import dev.tether.PersistentConnection;
import dev.tether.internal.DefaultScheduler;
import dev.tether.internal.Handovers;
import dev.tether.internal.Scheduled;
import dev.tether.internal.StateText;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import java.util.Map;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A {@link Channel} that follows a persistent connection, so that stubs are built once and keep
 * working across reconnects and failovers.
 *
 * <pre>{@code
 * OrdersGrpc.OrdersBlockingStub orders = OrdersGrpc.newBlockingStub(PersistentChannel.of(connection));
 * }</pre>
 *
 * <p>A new call goes to the current connection if there is one that is not closed and whose
 * channel is READY. Without one:
 *
 * <ul>
 *   <li>a call made {@code withWaitForReady()} waits for the next connection, bounded by its
 *       deadline (and the deadline of the current {@link io.grpc.Context}) and by cancellation;
 *       its callbacks run on the call's executor; calls that began to wait one after the other
 *       start on the next connection in that order (a call made once it is READY goes straight
 *       to it);
 *   <li>any other call fails at once with UNAVAILABLE whose description names the server and, if
 *       an attempt failed since the last connection, that failure, which is also the status's
 *       cause.
 * </ul>
 *
 * <p>A wait-for-ready call that its connection's channel has not yet sent when the connection
 * drops, or that fails UNAVAILABLE unsent after a handover replaced its connection or after its
 * channel left READY (a drop not yet noticed), whatever refused it (it never left this client),
 * moves to the next connection with its metadata, call options, messages,
 * half-close and flow-control requests, so it cannot sit in an abandoned channel until its
 * deadline. What a call keeps for a move is bounded in bytes; past the bound, or once the
 * server answered, it stays where it is. A call whose headers were sent stays on its channel, as
 * in gRPC: a drop ends it there, with the transport's status. To move a call whose connection
 * closed, the old attempt is first sealed, so that no transport of the old channel (one it
 * reconnected after a GOAWAY, say) starts its stream from then on, and then cancelled; a call
 * that a transport took before the seal stays on the old channel and ends there, as it would
 * without a move. A move never sends again a call that a transport took. The seal is the last
 * of the attempt's {@link io.grpc.CallCredentials}, added after the interceptors of the
 * connector's customizers ran: the caller's own credentials, or those an interceptor set, apply
 * as usual, and such interceptors never see the seal. Interceptors that a {@link ChannelFactory}
 * puts on its builder run inside the channel, after it: one that replaces a call's credentials
 * there bypasses the seal, and such a call, if a transport writes it out just as the move
 * cancels it, is not sent again but fails UNAVAILABLE, "the connection to &lt;server&gt; closed
 * under the call".
 *
 * <p>A fail-fast call made while a {@link PersistentConnection#handOver() handover} is in flight
 * (from {@code handOver()} until the switch, or until the handover fails) can move too: if its
 * connection closed before the call was sent, or a handover replaced the connection and the call
 * then failed UNAVAILABLE unsent (say the old server shut down right after the switch, while the
 * call still sat in the client's transport, and refused it), it moves to the current connection
 * if that is READY, and otherwise fails at once with the status it failed with; it never waits.
 * This is what gRPC's transparent retry does for a channel given several addresses. Such a call
 * costs what a wait-for-ready call costs: it keeps what the caller sent until the server answers.
 * Other fail-fast calls go straight to the current connection's channel, at no cost, and end with
 * it: one made before {@code handOver()} was called that is still unsent when the old server
 * goes away fails, as on a plain channel with that one address. A call whose connection a
 * handover replaced between reading it and making the call on its channel moves instead, as if
 * it had been made during the handover. (A caller that stalls after {@code newCall} returned and
 * calls {@code start} only after the switch, which closes the old connection, sees that channel
 * refuse the call, UNAVAILABLE, as a plain channel's call after {@code shutdown()}: these rules
 * narrow that race, and cannot close it.)
 *
 * <p>Every kind of call (unary, client, server and bidirectional streaming) works this way, flow
 * control ({@code isReady()}, {@code onReady}, {@code request(n)}) included.
 *
 * <p><b>Threads.</b> A call's callbacks run on the executor of its call options; without one, on
 * a pool of daemon threads that the adapter shares (as gRPC's channels do), never inside {@code
 * start()}, inside the persistent connection's loop, or on a scheduler's thread. (A direct
 * executor in the call options runs them on whichever thread triggers them, as in gRPC: a
 * transport's, the scheduler's at a waiting call's deadline, or the thread that finishes closing
 * the persistent connection.) Deadlines of waiting calls are timed on the persistent
 * connection's scheduler, so a virtual-time scheduler drives them in tests. No lock of this class is held while it calls into a persistent
 * connection, a channel or user code.
 *
 * <p>Once {@code close()} is called on the persistent connection (as its state turns {@code
 * CLOSING}, before closing finishes), every waiting and new call fails with UNAVAILABLE saying it
 * is closed.
 *
 * <p>{@link #authority()} is stable: the server name until a connection exists, then the
 * authority of the latest connection's channel.
 *
 * <p>Call {@link #of} once per persistent connection and share the result: each instance
 * subscribes to the persistent connection's events for as long as that lives.
 */
public final class PersistentChannel extends Channel {
  private static final Logger logger = LoggerFactory.getLogger(PersistentChannel.class);

  private final PersistentConnection<?, ? extends GrpcConnection<?>> connection;
  private final String serverName;
  private final ScheduledExecutorService scheduler;
  /** Tells whether a handover is in flight; null for persistent connections of other makes. */
  private final @Nullable Handovers handovers;
  private volatile String authority;
  /**
   * Attempts of wait-for-ready calls that wait for a connection, by when they began to wait: the
   * next connection takes them in that order. A skip list, not a hash set, also gives its memory
   * back once a crowd of calls that waited through an outage has gone.
   */
  private final ConcurrentSkipListMap<Long, Waiter> waiting = new ConcurrentSkipListMap<>();
  private final AtomicLong waitOrder = new AtomicLong();
  /** Passes over {@link #waiting} asked for and not yet run: see {@link #connectWaiting}. */
  private final AtomicInteger passesWanted = new AtomicInteger();
  private volatile boolean closed;
  /** Bytes that this channel's calls keep for moves, all together: bounded as gRPC's retry buffer. */
  private final AtomicLong keptBytes = new AtomicLong();
  /** The most bytes all calls of one channel keep for moves: gRPC's default retry buffer. */
  static final long MAX_KEPT_BYTES = 16L << 20;

  /**
   * An attempt of a call that needs a connection: a wait-for-ready one waits for it; a fail-fast
   * one (see {@link #connectOrFail}) takes the current one or fails.
   */
  interface Waiter {
    /** Runs the attempt on {@code connection}; called once, with no lock held. */
    void connectTo(GrpcConnection<?> connection);

    /** Ends the attempt, which got no connection, with {@code status}. */
    void fail(Status status);

    /** Records where the waiter waits in line; called once, before it waits. */
    void waitsAt(long place);

    /** Where {@link #waitsAt} put the waiter; -1 if it never waited. */
    long place();
  }

  private PersistentChannel(PersistentConnection<?, ? extends GrpcConnection<?>> connection) {
    this.connection = connection;
    this.serverName = connection.serverName();
    this.authority = serverName;
    this.scheduler =
        connection instanceof Scheduled scheduled ? scheduled.scheduler() : DefaultScheduler.get();
    this.handovers = connection instanceof Handovers h ? h : null;
    connection.subscribe(this::onEvent);
    // Waiting calls fail as soon as close() is called (CLOSING), not when closing finishes,
    // which a draining connection may hold up for its whole shutdown grace.
    connection.subscribeState(
        state -> {
          if (state.status().compareTo(ConnectionState.Status.CLOSING) >= 0 && !closed) {
            closed = true; // at once: no new waiter from here on
            // Off the loop: a call with a direct executor would run its onClose right here.
            Calls.execute(Calls.sharedPool(), this::onClosed);
          }
        });
    connection
        .closeFinished()
        .addListener(() -> Calls.execute(Calls.sharedPool(), this::onClosed), directExecutor());
  }

  /**
   * Returns a channel that follows {@code connection}. Call it once per persistent connection.
   *
   * @throws NullPointerException if {@code connection} is null
   */
  public static PersistentChannel of(
      PersistentConnection<?, ? extends GrpcConnection<?>> connection) {
    return new PersistentChannel(requireNonNull(connection, "connection"));
  }

  /** Runs in the persistent connection's loop: so it only records, or hands work to the pool. */
  private void onEvent(Event<?, ?> event) {
    if (event instanceof Event.Connected) {
      if (!waiting.isEmpty()) {
        Calls.execute(Calls.sharedPool(), this::connectWaiting);
      }
    }
  }

  /**
   * Runs {@link #connectWaitingOnce} until no connection came meanwhile, one pass at a time, so
   * that two connections close together (a handover's, a drop's next) never run two passes over
   * the line at once, which would start its calls out of order.
   */
  private void connectWaiting() {
    int missed = passesWanted.incrementAndGet();
    if (missed != 1) {
      return; // the pass that runs now makes one more
    }
    do {
      try {
        connectWaitingOnce();
      } catch (Throwable t) { // never leaves the count up: no later pass would run
        logger.error("handing the waiting calls a connection failed; the next connection tries again", t);
      }
      missed = passesWanted.addAndGet(-missed);
    } while (missed != 0);
  }

  /**
   * Hands the current connection, if it is READY, to every attempt that waits; once the persistent
   * connection is closed, fails them instead, as its close does (which may not have reached this
   * channel yet).
   */
  private void connectWaitingOnce() {
    GrpcConnection<?> current = readyConnection();
    if (current == null) {
      return; // gone again: they wait for the next one
    }
    if (!takeEachWaiter(waiter -> waiter.connectTo(current), connection::isClosed)) {
      onClosed();
    }
  }

  private void onClosed() {
    closed = true;
    Status status = closedStatus();
    takeEachWaiter(waiter -> waiter.fail(status), () -> false);
  }

  /**
   * Takes each waiter out of the line, in order, and runs {@code action} on it, guarded (a waiter
   * another thread took meanwhile is skipped). Returns false, leaving the rest, as soon as {@code
   * stop} is true before a waiter.
   */
  private boolean takeEachWaiter(Consumer<Waiter> action, BooleanSupplier stop) {
    for (Map.Entry<Long, Waiter> waiter : waiting.entrySet()) {
      if (stop.getAsBoolean()) {
        return false;
      }
      if (waiting.remove(waiter.getKey(), waiter.getValue())) {
        runGuarded(() -> action.accept(waiter.getValue()));
      }
    }
    return true;
  }

  private static void runGuarded(Runnable task) {
    try {
      task.run();
    } catch (Throwable e) { // even an Error from an interceptor: the other waiters go on
      logger.warn("a waiting call failed to take its turn; the others go on", e);
    }
  }

  /**
   * Returns the current connection if its channel is READY. A connection that is not READY is
   * asked about once more: the thread may have stalled between reading it and asking it, while a
   * handover switched to a new connection and the old one's server went away.
   */
  private @Nullable GrpcConnection<?> readyConnection() {
    GrpcConnection<?> current = connection.currentConnection();
    if (current != null && current.isReady()) {
      return current;
    }
    GrpcConnection<?> again = connection.currentConnection();
    return again != current && again != null && again.isReady() ? again : null;
  }

  /** {@link #readyConnection()}, unless the persistent connection is closed. */
  @Nullable GrpcConnection<?> openReadyConnection() {
    return closed || connection.isClosed() ? null : readyConnection();
  }

  @Override
  public <ReqT, RespT> ClientCall<ReqT, RespT> newCall(
      MethodDescriptor<ReqT, RespT> method, CallOptions options) {
    if (connection.isClosed()) {
      return new FailingCall<>(closedStatus(), Calls.executorOf(options));
    }
    if (options.isWaitForReady()) {
      // Even with a ready connection: a call made just as it drops moves to the next one.
      return new MovingCall<>(this, method, options);
    }
    // Read before the current connection: the loop makes the new connection current before it
    // clears the handover, so a call that sees none in flight sees the new connection below.
    Handovers moves = handovers;
    boolean handoverInFlight = moves != null && moves.handoverInFlight();
    GrpcConnection<?> current = readyConnection();
    if (current != null) {
      if (handoverInFlight) {
        // Its connection may be replaced before the call is sent, and its server go away: then
        // the call moves to the new connection, as gRPC's transparent retry moves a call to
        // another address of the same channel. It never waits, though.
        return new MovingCall<>(this, method, options);
      }
      ClientCall<ReqT, RespT> call = current.channel().newCall(method, options);
      if (isCurrent(current)) {
        return call;
      }
      // A handover replaced it since it was read, and closes it: its channel may refuse the
      // call. A moving call starts on the new connection instead; this one is ended unstarted.
      Calls.cancelUnstarted(call, "moved to the current connection");
      return new MovingCall<>(this, method, options);
    }
    return new FailingCall<>(unavailableStatus(), Calls.executorOf(options));
  }

  @Override
  public String authority() {
    GrpcConnection<?> current = connection.currentConnection();
    if (current != null) {
      authority = current.channel().authority(); // remembered for while there is none
    }
    return authority;
  }

  @Override
  public String toString() {
    return "PersistentChannel[" + serverName + "]";
  }

  String serverName() {
    return serverName;
  }

  ScheduledExecutorService scheduler() {
    return scheduler;
  }

  /**
   * Gives {@code waiter} the current connection, on this thread, if it is READY; fails
   * it if the persistent connection is closed; otherwise keeps it until the next connection.
   * Returns true if it was kept waiting.
   */
  boolean await(Waiter waiter) {
    if (!closed && !connection.isClosed()) {
      GrpcConnection<?> current = readyConnection();
      if (current != null) {
        waiter.connectTo(current);
        return false;
      }
      // A current connection that is not READY has dropped, though its drop may not have been
      // noticed yet: the next one wakes the waiter. Started on it, the call would make the old
      // channel reconnect, or sit in it until the drop moved it.
      long place = waitOrder.getAndIncrement();
      waiter.waitsAt(place);
      waiting.put(place, waiter);
      // A connection or the close that came meanwhile would not have seen it: look again.
      current = readyConnection();
      if (current != null && waiting.remove(place, waiter)) {
        waiter.connectTo(current);
        return false;
      }
      if (!closed && !connection.isClosed()) {
        return true;
      }
      if (!waiting.remove(place, waiter)) {
        return true; // the close took it
      }
    }
    waiter.fail(closedStatus());
    return false;
  }

  /**
   * Gives a fail-fast {@code waiter} the current connection, on this thread, if it is open and
   * READY; otherwise fails it at once, as a fail-fast call without a ready connection fails: with
   * {@code why}, the status its previous attempt ended with, if it had one (what the call would
   * have ended with had it not tried to move), else with this channel's UNAVAILABLE.
   */
  void connectOrFail(Waiter waiter, @Nullable Status why) {
    if (closed || connection.isClosed()) {
      waiter.fail(closedStatus());
      return;
    }
    GrpcConnection<?> current = readyConnection();
    if (current != null) {
      waiter.connectTo(current);
    } else {
      waiter.fail(why != null ? why : unavailableStatus());
    }
  }

  /** Whether {@code candidate} is the persistent connection's current connection. */
  boolean isCurrent(GrpcConnection<?> candidate) {
    return connection.currentConnection() == candidate;
  }

  /** Reserves {@code bytes} of the channel's bound for a call's kept operations, if they fit. */
  boolean reserve(long bytes) {
    while (true) {
      long kept = keptBytes.get();
      if (kept + bytes > MAX_KEPT_BYTES) {
        return false;
      }
      if (keptBytes.compareAndSet(kept, kept + bytes)) {
        return true;
      }
    }
  }

  /** What this channel's calls keep for moves now, in bytes, all together. */
  long keptBytes() {
    return keptBytes.get();
  }

  /** Gives back what {@link #reserve} took. */
  void release(long bytes) {
    if (bytes != 0) {
      keptBytes.addAndGet(-bytes);
    }
  }

  /** Forgets a waiter that ended on its own (deadline, cancellation). */
  void forget(Waiter waiter) {
    long place = waiter.place();
    if (place >= 0) {
      waiting.remove(place, waiter);
    }
  }

  Status closedStatus() {
    return Status.UNAVAILABLE.withDescription(
        "persistent connection to " + serverName + " is closed");
  }

  /**
   * The status of a fail-fast call that found no ready connection: it names the server and says
   * what the persistent connection does ("no connection to orders: waiting to retry, next attempt
   * in 8.2 s; the last connection to 10.0.0.7:443 dropped"), with the last failure, if an attempt
   * failed since the last connection, as its cause.
   */
  private Status unavailableStatus() {
    ConnectionState<?, ?> state = connection.state();
    Object current = state.connection();
    // Connected, yet its channel was not READY: say how it is, which tells a drop not yet noticed
    // from a stale read.
    String notReady = current == null ? "" : " (" + current + " is not READY)";
    Status status =
        Status.UNAVAILABLE.withDescription(
            "no connection to " + serverName + ": " + StateText.describe(state) + notReady);
    ConnectAttemptException failure = state.lastFailure();
    return failure != null ? status.withCause(failure) : status;
  }

}
