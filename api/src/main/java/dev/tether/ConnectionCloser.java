package dev.tether;

import static com.google.common.base.Preconditions.checkState;
import static com.google.common.util.concurrent.MoreExecutors.directExecutor;

import com.google.common.util.concurrent.Futures;
import com.google.common.util.concurrent.ListenableFuture;
import dev.tether.internal.Retirable;
import java.util.Objects;
import java.util.concurrent.CancellationException;
import java.util.concurrent.ExecutionException;

/**
 * Closes the connections of one persistent connection, confined to its serializing context, and
 * counts what {@code closeFinished()} must wait for besides the current connection: connections
 * never published (late, failed to initialize, broken at once) until their close completes, and
 * cancelled attempts until their future in flight comes back. Each time the count falls, {@code
 * settled} runs. A close that throws, returns null, fails or is cancelled is logged and counted as
 * done. Also reads {@code isClosed()} guarded.
 */
final class ConnectionCloser<C extends Closable> {
  private final SerializingContext context;
  private final EventLog log;
  private final Runnable settled;
  private int pending;

  ConnectionCloser(SerializingContext context, EventLog log, Runnable settled) {
    this.context = context;
    this.log = log;
    this.settled = settled;
  }

  /** Closes {@code connection} and runs {@code closed} in a step once its close completes. */
  void close(C connection, Runnable closed) {
    finish(connection, false, closed);
  }

  /**
   * Retires {@code connection}, which a handover replaced ({@link Retirable#retire()}, or {@code
   * close()} if it cannot be retired), and runs {@code closed} in a step once its close completes.
   */
  void retire(C connection, Runnable closed) {
    finish(connection, true, closed);
  }

  /** Closes {@code connection} at once, whatever a retirement of it waits for. */
  void expedite(C connection) {
    try {
      ListenableFuture<Void> unused = connection.close(); // a retire() already counts it
    } catch (Throwable t) {
      log.warn("closing connection {} failed; counting it as closed", connection, t);
    }
  }

  private void finish(C connection, boolean retire, Runnable closed) {
    context.checkInContext();
    ListenableFuture<Void> closing;
    try {
      closing =
          Objects.requireNonNull(
              retire && connection instanceof Retirable retirable
                  ? retirable.retire()
                  : connection.close(),
              "close() returned null");
    } catch (Throwable t) {
      log.warn("closing connection {} failed; counting it as closed", connection, t);
      closed.run();
      return;
    }
    closing.addListener(
        () ->
            context.execute(
                () -> {
                  logIfFailed(closing, connection);
                  closed.run();
                }),
        directExecutor());
  }

  /** Closes a connection that was never published, counted until its close completes. */
  void closeUnpublished(C connection) {
    hold();
    close(connection, this::release);
  }

  /** Counts one more thing to wait for. */
  void hold() {
    pending++;
  }

  /** One thing counted by {@link #hold()} is done. */
  void release() {
    checkState(pending > 0, "released more than held");
    pending--;
    settled.run();
  }

  /** Whether nothing counted is pending. */
  boolean idle() {
    return pending == 0;
  }

  /** {@code connection.isClosed()}; one that throws is logged and counts as closed. Any thread. */
  boolean isClosed(C connection) {
    try {
      return connection.isClosed();
    } catch (Throwable t) {
      log.warn("connection {}.isClosed() threw; treating it as closed", connection, t);
      return true;
    }
  }

  private void logIfFailed(ListenableFuture<Void> closing, C connection) {
    try {
      Futures.getDone(closing);
    } catch (ExecutionException e) {
      log.warn("closing connection {} failed; counting it as closed", connection, e.getCause());
    } catch (CancellationException e) {
      log.warn("closing connection {} was cancelled; counting it as closed", connection, e);
    } catch (Throwable t) { // reading the failure threw (its error's toString(), say)
      log.warn("closing connection {} failed; counting it as closed", connection, t);
    }
  }
}
