package dev.tether.grpc;

import static com.google.common.util.concurrent.MoreExecutors.directExecutor;
import static java.util.Objects.requireNonNull;

import com.google.common.util.concurrent.MoreExecutors;
import dev.tether.Event;
import dev.tether.PersistentConnection;
import dev.tether.internal.DefaultScheduler;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Executor;
import java.util.concurrent.ScheduledExecutorService;
import org.jspecify.annotations.Nullable;

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
 *       its callbacks run on the call's executor;
 *   <li>any other call fails at once with UNAVAILABLE whose description names the server and, if
 *       an attempt failed since the last connection, that failure, which is also the status's
 *       cause.
 * </ul>
 *
 * <p>A wait-for-ready call that its connection's channel has not yet sent when the connection
 * drops (it never left this client) moves to the next connection, so it cannot sit in an abandoned
 * channel until its deadline. A call whose headers were sent stays on its channel, as in gRPC: a
 * drop ends it there, with the transport's status.
 *
 * <p>After the persistent connection is closed, every waiting and new call fails with UNAVAILABLE
 * saying so.
 *
 * <p>{@link #authority()} is stable: the server name until a connection exists, then the
 * authority of the latest connection's channel.
 *
 * <p>Call {@link #of} once per persistent connection and share the result: each instance
 * subscribes to the persistent connection's events for as long as that lives.
 */
public final class PersistentChannel extends Channel {
  private final PersistentConnection<?, ? extends GrpcConnection<?>> connection;
  private final String serverName;
  private final ScheduledExecutorService scheduler;
  private volatile String authority;
  private volatile @Nullable Throwable lastFailure;
  private final Object lock = new Object();
  private final Set<WaitingCall<?, ?>> waiting = new LinkedHashSet<>(); // guarded by lock
  private boolean closed; // guarded by lock

  private PersistentChannel(PersistentConnection<?, ? extends GrpcConnection<?>> connection) {
    this.connection = connection;
    this.serverName = connection.serverName();
    this.authority = serverName;
    this.scheduler = DefaultScheduler.get();
    connection.subscribe(this::onEvent);
    connection.closeFinished().addListener(this::onClosed, directExecutor());
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

  private void onEvent(Event<?, ?> event) {
    if (event instanceof Event.FailedToConnect<?, ?> failed) {
      lastFailure = failed.error();
    } else if (event instanceof Event.Connected) {
      lastFailure = null;
    }
  }

  private void onClosed() {
    List<WaitingCall<?, ?>> toFail;
    synchronized (lock) {
      closed = true;
      toFail = new ArrayList<>(waiting);
      waiting.clear();
    }
    for (WaitingCall<?, ?> call : toFail) {
      call.fail(closedStatus());
    }
  }

  @Override
  public <ReqT, RespT> ClientCall<ReqT, RespT> newCall(
      MethodDescriptor<ReqT, RespT> method, CallOptions options) {
    if (connection.isClosed()) {
      return new FailingCall<>(closedStatus(), executorOf(options));
    }
    if (options.isWaitForReady()) {
      // Even with a ready connection: a call made just as it drops moves to the next one.
      return new WaitingCall<>(this, method, options);
    }
    GrpcConnection<?> current = connection.currentConnection();
    if (current != null && current.isReady()) {
      return current.channel().newCall(method, options);
    }
    return new FailingCall<>(unavailableStatus(), executorOf(options));
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

  PersistentConnection<?, ? extends GrpcConnection<?>> connection() {
    return connection;
  }

  String serverName() {
    return serverName;
  }

  ScheduledExecutorService scheduler() {
    return scheduler;
  }

  /** Registers a waiting call; returns false if the persistent connection is already closed. */
  boolean register(WaitingCall<?, ?> call) {
    synchronized (lock) {
      if (closed) {
        return false;
      }
      waiting.add(call);
      return true;
    }
  }

  void unregister(WaitingCall<?, ?> call) {
    synchronized (lock) {
      waiting.remove(call);
    }
  }

  Status closedStatus() {
    return Status.UNAVAILABLE.withDescription(
        "persistent connection to " + serverName + " is closed");
  }

  private Status unavailableStatus() {
    Throwable failure = lastFailure;
    if (failure == null) {
      return Status.UNAVAILABLE.withDescription("no connection to " + serverName + " yet");
    }
    return Status.UNAVAILABLE
        .withDescription(
            "no connection to " + serverName + "; the last attempt failed: " + failure.getMessage())
        .withCause(failure);
  }

  /**
   * The executor of a call's callbacks: the call's own, or else callbacks run one at a time on
   * the thread that triggers them.
   */
  static Executor executorOf(CallOptions options) {
    Executor executor = options.getExecutor();
    return executor != null ? executor : MoreExecutors.newSequentialExecutor(directExecutor());
  }
}
