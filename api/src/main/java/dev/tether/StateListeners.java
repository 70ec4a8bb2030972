package dev.tether;

import java.util.function.Supplier;
import org.jspecify.annotations.Nullable;

/**
 * The state listeners of one persistent connection, confined to its serializing context. Each gets
 * the current state when it subscribes, then every state that differs from the last one it got
 * in what listeners are told about; nothing after {@code CLOSED}. A listener that throws is logged
 * and skipped.
 */
final class StateListeners<A, C> {
  private final EventLog log;
  private final Subscriptions<Offered> subscriptions;

  /** A listener and the last state it got. */
  private final class Offered {
    final StateListener<A, C> listener;
    @Nullable ConnectionState<A, C> last; // confined to the context

    Offered(StateListener<A, C> listener) {
      this.listener = listener;
    }

    void offer(ConnectionState<A, C> state) {
      ConnectionState<A, C> previous = last;
      if (previous != null
          && (previous.status() == ConnectionState.Status.CLOSED || !state.differsFrom(previous))) {
        return;
      }
      last = state;
      try {
        listener.onState(state);
      } catch (Throwable t) {
        log.warn("state listener {} threw on {}; skipped", listener, state, t);
      }
    }

    @Override
    public String toString() {
      return listener.toString();
    }
  }

  StateListeners(SerializingContext context, EventLog log) {
    this.log = log;
    this.subscriptions = new Subscriptions<>(context, "states of " + log.serverName());
  }

  /** Adds {@code listener} in a step, which gives it the state {@code current} supplies then. */
  Subscription subscribe(StateListener<A, C> listener, Supplier<ConnectionState<A, C>> current) {
    return subscriptions.add(new Offered(listener), added -> added.offer(current.get()));
  }

  /** Offers {@code state} to every listener. In the context. */
  void publish(ConnectionState<A, C> state) {
    subscriptions.forEach(offered -> offered.offer(state));
  }
}
