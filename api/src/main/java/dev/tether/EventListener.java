package dev.tether;

/**
 * Receives the {@link Event}s of one {@link PersistentConnection}.
 *
 * <p>Events are delivered one at a time and in order, never concurrently for one persistent
 * connection, on whichever thread drives its loop at that moment (see {@link
 * PersistentConnection}). A listener must not block. A listener that throws is logged and
 * skipped; the other listeners still receive the event and the loop goes on.
 *
 * @param <A> the address type
 * @param <C> the connection type
 */
@FunctionalInterface
public interface EventListener<A, C> {

  /** Receives one event. */
  void onEvent(Event<A, C> event);
}
