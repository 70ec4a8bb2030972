package dev.tether.testing;

import com.google.common.util.concurrent.ListenableFuture;
import com.google.common.util.concurrent.SettableFuture;
import dev.tether.Closable;

/**
 * A connection that carries nothing, for tests of code that uses a {@link
 * dev.tether.PersistentConnection} without a transport: it closes at once when told, and {@link
 * #drop()} plays the other side going away. Thread-safe.
 */
public final class IdleConnection implements Closable {
  private final SettableFuture<Void> closed = SettableFuture.create();

  /** Returns a new open connection. */
  public IdleConnection() {}

  /** The peer went away: the connection closes itself, as a real one would. */
  public void drop() {
    closed.set(null);
  }

  @Override
  public ListenableFuture<Void> close() {
    closed.set(null);
    return closed;
  }

  @Override
  public boolean isClosed() {
    return closed.isDone();
  }

  @Override
  public ListenableFuture<Void> closeFinished() {
    return closed;
  }
}
