package dev.tether;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

/**
 * Listeners of one kind, confined to a persistent connection's serializing context: each is added
 * in a step (which may hand it something first), and leaves at once when its subscription is
 * closed, from any thread: it gets nothing from then on.
 */
final class Subscriptions<L> {
  private final SerializingContext context;
  private final String what;
  private final List<Entry> entries = new ArrayList<>();

  /** A listener's registration; {@code active} is cleared at once by {@link #close()}. */
  private final class Entry implements Subscription {
    final L listener;
    volatile boolean active = true;

    Entry(L listener) {
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
      return "Subscription[" + what + (active ? "" : ", closed") + "]";
    }
  }

  /** {@code what} says in a subscription's {@code toString()} what it follows: "events of orders". */
  Subscriptions(SerializingContext context, String what) {
    this.context = context;
    this.what = what;
  }

  /** Adds {@code listener} now, before the loop starts. */
  void addInitial(L listener) {
    entries.add(new Entry(listener));
  }

  /** Adds {@code listener} in a step, which first hands it to {@code first}. */
  Subscription add(L listener, Consumer<L> first) {
    Entry entry = new Entry(listener);
    context.execute(
        () -> {
          if (entry.active) {
            entries.add(entry);
            first.accept(listener);
          }
        });
    return entry;
  }

  /** Hands every active listener to {@code action}, in the order they were added. In the context. */
  void forEach(Consumer<L> action) {
    context.checkInContext();
    // Listeners are added and removed only by later steps, so this list is stable here.
    for (Entry entry : entries) {
      if (entry.active) {
        action.accept(entry.listener);
      }
    }
  }
}
