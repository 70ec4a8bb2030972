package dev.tether;

import com.google.common.util.concurrent.ListenableFuture;

/**
 * Prepares a new connection before it is published: a handshake, a health check, re-subscribing
 * streams. A connection becomes current, is announced by {@code Connected} and completes the
 * {@code connected()} futures only once the future this returns succeeds.
 *
 * <p>Runs in a step of the persistent connection's loop, on the thread that completed the
 * connect, never under a library lock; it must not block, but return a future completed later. A
 * throw, a {@code null} future, a failed future, or the connection closing first fails the attempt
 * with a {@link ConnectAttemptException} of stage {@code INITIALIZE}; the connection is then closed
 * (unless it closed itself). {@code close()} cancels the future and closes the connection; its
 * {@code closeFinished()} waits until the future is done, as it waits for a lookup's or a
 * connect's, so a future whose {@code cancel()} only asks its work to stop (a coroutine's) is
 * waited for. The future must complete: bound it yourself (the gRPC health check takes a
 * timeout).
 *
 * @param <C> the connection type
 */
@FunctionalInterface
public interface ConnectionInitializer<C> {
  /** Starts preparing {@code connection}; the future's value is ignored. */
  ListenableFuture<?> initialize(C connection) throws Exception;
}
