package dev.tether;

import com.google.common.util.concurrent.ListenableFuture;

/**
 * Something that can be closed asynchronously and tells when closing has finished.
 *
 * <p>This is the contract between a {@link PersistentConnection} and the connections its {@link
 * Connector} makes, and {@code PersistentConnection} is itself a {@code Closable}.
 *
 * <p>A connection that notices on its own that the other side went away may close itself: it then
 * completes {@link #closeFinished()} without anyone calling {@link #close()}. That is the only way
 * a {@code PersistentConnection} learns that a connection dropped, so an implementation that does
 * this must say so in its documentation.
 *
 * <p><b>Threads.</b> {@link #closeFinished()} may complete on any thread: the implementation's
 * own (a transport's, a timer's) or the caller of {@code close()}. A {@code PersistentConnection}
 * reacts to it with a step of its loop on that thread, so an implementation must not complete it
 * while holding a lock that the loop's user code might need.
 */
public interface Closable {

  /**
   * Starts closing, if not already started, and returns {@link #closeFinished()}.
   *
   * <p>Idempotent: every call returns the same future, which completes once all the resources
   * needed to maintain the connection are released.
   */
  ListenableFuture<Void> close();

  /**
   * Returns {@code true} from the moment {@link #close()} is first called (synchronously, even if
   * closing has not finished), or from the moment the implementation starts closing itself.
   */
  boolean isClosed();

  /**
   * Returns a future that completes when closing has finished: at the same time as the future of
   * the first {@link #close()} call. Unlike {@code close()}, this never starts closing.
   */
  ListenableFuture<Void> closeFinished();
}
