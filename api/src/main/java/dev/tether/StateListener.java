package dev.tether;

/**
 * Receives the states of a persistent connection: the current one at once, then each one the loop
 * passes through, as {@link PersistentConnection#subscribeState} describes.
 *
 * <p>Called one state at a time, in order, on the thread that runs the step that changed it (see
 * {@link PersistentConnection}, "Threads"); never under a library lock. A state that goes with an
 * event reaches state listeners just before the event reaches event listeners. Must not block. A
 * listener that throws is logged and skipped.
 *
 * @param <A> the address type
 * @param <C> the connection type
 */
@FunctionalInterface
public interface StateListener<A, C> {
  /** Receives {@code state}. */
  void onState(ConnectionState<A, C> state);
}
