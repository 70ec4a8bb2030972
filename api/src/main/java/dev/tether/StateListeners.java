package dev.tether;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;
import org.jspecify.annotations.Nullable;

/**
 * The state listeners of one persistent connection, confined to its serializing context. Each gets
 * the current state when it subscribes, then every state that differs from the last one it got
 * in what listeners are told about; nothing after {@code CLOSED}. A listener that throws is logged
 * and skipped.
 */
final class StateListeners<A, C> {
  private final SerializingContext context;
  private final EventLog log;
  private final List<Entry> entries = new ArrayList<>();

  private final class Entry implements Subscription {
    final StateListener<A, C> listener;
    volatile boolean active = true;
    @Nullable ConnectionState<A, C> last; // confined to the context

    Entry(StateListener<A, C> listener) {
      this.listener = listener;
    }

    void offer(ConnectionState<A, C> state) {
      ConnectionState<A, C> previous = last;
      if (!active
          || (previous != null
              && (previous.status() == ConnectionState.Status.CLOSED
                  || !state.differsFrom(previous)))) {
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
    public void close() {
      if (active) {
        active = false;
        context.execute(() -> entries.remove(this));
      }
    }

    @Override
    public String toString() {
      return "Subscription[" + listener + (active ? "" : ", closed") + "]";
    }
  }

  StateListeners(SerializingContext context, EventLog log) {
    this.context = context;
    this.log = log;
  }

  /** Adds {@code listener} in a step, which gives it the state {@code current} supplies then. */
  Subscription subscribe(StateListener<A, C> listener, Supplier<ConnectionState<A, C>> current) {
    Entry entry = new Entry(listener);
    context.execute(
        () -> {
          if (!entry.active) {
            return;
          }
          entries.add(entry);
          entry.offer(current.get());
        });
    return entry;
  }

  /** Offers {@code state} to every listener. In the context. */
  void publish(ConnectionState<A, C> state) {
    context.checkInContext();
    // Listeners are added and removed only by later steps, so this list is stable here.
    for (Entry entry : entries) {
      entry.offer(state);
    }
  }
}
