package dev.tether.internal;

import com.google.common.util.concurrent.ListenableFuture;

/**
 * Implemented by connections that a handover can retire rather than close (the gRPC adapter's):
 * the persistent connection calls {@link #retire()} on the connection a handover replaced, in the
 * switching step. Not part of the public API.
 */
public interface Retirable {
  /**
   * Closes this connection for new work at once ({@code isClosed()} is true from now on, and
   * whoever watches for its close is told), while work that picked it just before the switch can
   * still start on it for a short grace; then it closes as {@code close()} does. A {@code close()}
   * during the grace closes it at once. Returns {@code closeFinished()}. Idempotent; never throws
   * for a connection that is open.
   */
  ListenableFuture<Void> retire();
}
