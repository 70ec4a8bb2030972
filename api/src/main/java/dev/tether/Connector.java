package dev.tether;

import com.google.common.util.concurrent.ListenableFuture;

/**
 * Connects to an address that an {@link AddressLookup} returned.
 *
 * <p>The connector runs on whichever thread drives the persistent connection's loop at that
 * moment (see {@link PersistentConnection}), never under a library lock, and must not block.
 *
 * <p>The persistent connection owns each connection this connector yields: it closes it when the
 * persistent connection is closed, and learns that it dropped only when its {@link
 * Closable#closeFinished()} completes. It never calls {@link Closable#close()} because the other
 * side went away, so a connection that should be replaced when its peer disappears must close
 * itself then, and its documentation should say so.
 *
 * @param <A> the address type
 * @param <C> the connection type
 */
@FunctionalInterface
public interface Connector<A, C extends Closable> {

  /**
   * Starts connecting to {@code address}.
   *
   * <p>A synchronous throw, a failed future, a {@code null} future or a {@code null} result all
   * fail the attempt: the persistent connection reports {@link Event.FailedToConnect} with a
   * {@link ConnectAttemptException} of stage {@link ConnectAttemptException.Stage#CONNECT} and
   * tries again after the retry delay.
   *
   * <p>When the persistent connection is closed during the attempt it cancels the returned future;
   * the connector must then release what the attempt holds. The future must complete eventually
   * (a connect timeout ensures it): {@link PersistentConnection#closeFinished()} waits for it. A
   * connection that arrives anyway is closed and never handed out.
   */
  ListenableFuture<C> connect(A address) throws Exception;
}
