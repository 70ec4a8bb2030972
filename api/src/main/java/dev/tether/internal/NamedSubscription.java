package dev.tether.internal;

import static java.util.Objects.requireNonNull;

import dev.tether.Subscription;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A {@link Subscription} that runs its closing action once and says what it is in {@code
 * toString()}. For Tether's modules only; not a public API.
 */
public final class NamedSubscription implements Subscription {
  private final String description;
  private final Runnable onClose;
  private final AtomicBoolean closed = new AtomicBoolean();

  private NamedSubscription(String description, Runnable onClose) {
    this.description = requireNonNull(description, "description");
    this.onClose = requireNonNull(onClose, "onClose");
  }

  /** Returns a subscription described by {@code description} whose first close runs {@code onClose}. */
  public static Subscription of(String description, Runnable onClose) {
    return new NamedSubscription(description, onClose);
  }

  @Override
  public void close() {
    if (closed.compareAndSet(false, true)) {
      onClose.run();
    }
  }

  @Override
  public String toString() {
    return "Subscription[" + description + (closed.get() ? ", closed" : "") + "]";
  }
}
