package dev.tether;

import java.util.ArrayList;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * The event listeners of one persistent connection and the last event, confined to its
 * serializing context. Each event is logged, then delivered to every listener in order; a
 * listener that throws is logged and skipped. A late listener first gets the last event.
 */
final class Listeners<A, C> {
  private final SerializingContext context;
  private final EventLog log;
  private final List<Entry> entries = new ArrayList<>();
  private @Nullable Event<A, C> last;

  /** A listener's registration; {@code active} is cleared at once by {@link #close()}. */
  private final class Entry implements Subscription {
    final EventListener<A, C> listener;
    volatile boolean active = true;

    Entry(EventListener<A, C> listener) {
      this.listener = listener;
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

  Listeners(SerializingContext context, EventLog log, List<EventListener<A, C>> initial) {
    this.context = context;
    this.log = log;
    for (EventListener<A, C> listener : initial) {
      entries.add(new Entry(listener));
    }
  }

  /** Adds {@code listener} in a step of the context, which gives it the last event first. */
  Subscription subscribe(EventListener<A, C> listener) {
    Entry entry = new Entry(listener);
    context.execute(
        () -> {
          if (!entry.active) {
            return;
          }
          entries.add(entry);
          Event<A, C> previous = last;
          if (previous != null) {
            deliver(entry, previous);
          }
        });
    return entry;
  }

  /** Logs {@code event} and delivers it to every listener. In the context. */
  void emit(Event<A, C> event) {
    emit(event, null);
  }

  /** The same, with {@code detail} added to the log line (what comes next, say). */
  void emit(Event<A, C> event, @Nullable String detail) {
    context.checkInContext();
    last = event;
    log.event(event, detail);
    // Listeners are added and removed only by later steps, so this list is stable here.
    for (Entry entry : entries) {
      if (entry.active) {
        deliver(entry, event);
      }
    }
  }

  private void deliver(Entry entry, Event<A, C> event) {
    try {
      entry.listener.onEvent(event);
    } catch (Throwable t) {
      log.warn("event listener {} threw on {}; skipped", entry.listener, event, t);
    }
  }
}
