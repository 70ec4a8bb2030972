package dev.tether.internal;

import dev.tether.ConnectAttemptException;
import dev.tether.Subscription;
import org.jspecify.annotations.Nullable;

/**
 * Told of every attempt a persistent connection built by Tether makes, of any kind (a round's, a
 * standby's, a handover's), for Tether's metrics. Not part of the public API.
 *
 * <p>Runs in the persistent connection's serializing context, in the step where the attempt
 * starts or ends, before that step publishes a state or an event: it must be quick, must not
 * block, and must not call the persistent connection. What it throws is logged and ignored.
 */
public interface AttemptObserver {
  /**
   * An attempt's lookup starts. Returns what is told of its end, or null to hear nothing more of
   * it.
   */
  @Nullable Outcome started();

  /**
   * An attempt that started before this observer was added is ending. Returns what is told of
   * that end at once, or null to hear nothing of it.
   */
  @Nullable Outcome joinedLate();

  /**
   * Told once how one attempt ended, if it ended with a connection or an error while the
   * persistent connection was open. A success is an attempt whose connection is connected and
   * initialized, also when the connection is then not used (a standby's address became the
   * current one's meanwhile, or the handover it was for was abandoned). An attempt that stops
   * with neither is never told: one cancelled (by {@code close()}, an abandoned handover, a
   * stopped standby), one that ends after {@code close()} was called, one that stopped after its lookup
   * because it found the current connection's address, or a handover's that found the live
   * standby's (whose own attempt was told) and switched to it.
   */
  interface Outcome {
    /** The attempt's connection is connected and initialized. */
    void succeeded();

    /** The attempt failed, at the stage {@code error} names. */
    void failed(ConnectAttemptException error);
  }

  /** Implemented by Tether's persistent connections. */
  interface Source {
    /**
     * Tells {@code observer} of the attempts that start from now on, and of the end of those in
     * flight now ({@link AttemptObserver#joinedLate()}), until the returned subscription is
     * closed (an attempt whose start it was told of is still told how it ends, and a step that
     * began before the close may still tell it of one more). Any thread.
     */
    Subscription observeAttempts(AttemptObserver observer);
  }
}
