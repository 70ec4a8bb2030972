package dev.tether;

/**
 * A listener's registration with a {@link PersistentConnection}, returned by {@link
 * PersistentConnection#subscribe}. Closing it removes the listener.
 */
public interface Subscription extends AutoCloseable {

  /**
   * Removes the listener: once this returns, the listener receives no further event, except one
   * whose delivery is running at that moment on another thread. Idempotent; throws nothing.
   */
  @Override
  void close();
}
