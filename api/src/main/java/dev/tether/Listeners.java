package dev.tether;

import java.util.List;
import java.util.function.BooleanSupplier;
import org.jspecify.annotations.Nullable;

/**
 * The event listeners of one persistent connection and the last event, confined to its
 * serializing context. Each event is logged, then delivered to every listener in order; a
 * listener that throws is logged and skipped. A late listener first gets the last event.
 */
final class Listeners<A, C> {
  private final EventLog log;
  private final Subscriptions<EventListener<A, C>> subscriptions;
  private final BooleanSupplier closingDisconnectToCome;
  private @Nullable Event<A, C> last;

  /**
   * {@code closingDisconnectToCome} says, in the context, whether the loop is closing with the
   * {@code Disconnected} of its close still to come: that event, not the one before, is then
   * the last a late listener gets (DESIGN 3.4).
   */
  Listeners(
      SerializingContext context,
      EventLog log,
      List<EventListener<A, C>> initial,
      BooleanSupplier closingDisconnectToCome) {
    this.log = log;
    this.subscriptions = new Subscriptions<>(context, "events of " + log.serverName());
    this.closingDisconnectToCome = closingDisconnectToCome;
    initial.forEach(subscriptions::addInitial);
  }

  /**
   * Adds {@code listener} in a step of the context, which gives it the last event first; while a
   * close waits for its {@code Disconnected}, it gets that event alone.
   */
  Subscription subscribe(EventListener<A, C> listener) {
    return subscriptions.add(
        listener,
        added -> {
          Event<A, C> previous = last;
          if (previous != null && !closingDisconnectToCome.getAsBoolean()) {
            deliver(added, previous);
          }
        });
  }

  /** Logs {@code event} and delivers it to every listener. In the context. */
  void emit(Event<A, C> event) {
    emit(event, null);
  }

  /**
   * The same, with {@code detail} added to the log line (what comes next, say); the log turns it
   * into text, guarded, so that a detail made of user objects cannot break the step.
   */
  void emit(Event<A, C> event, @Nullable Object detail) {
    last = event;
    log.event(event, detail);
    subscriptions.forEach(listener -> deliver(listener, event));
  }

  private void deliver(EventListener<A, C> listener, Event<A, C> event) {
    try {
      listener.onEvent(event);
    } catch (Throwable t) {
      log.warn("event listener {} threw on {}; skipped", listener, event, t);
    }
  }
}
