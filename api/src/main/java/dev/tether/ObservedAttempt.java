package dev.tether;

import dev.tether.internal.AttemptObserver;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;
import org.jspecify.annotations.Nullable;

/**
 * What the {@link AttemptObserver}s of a persistent connection were told of one attempt's start,
 * kept by the attempt to tell them of its end, once. Confined to the serializing context; each
 * observer is guarded, so that one that throws is logged and the loop's step goes on.
 */
final class ObservedAttempt {
  /** An attempt no observer follows: what nearly every attempt carries, with no allocation. */
  static final ObservedAttempt NONE = new ObservedAttempt(List.of());

  private final List<AttemptObserver.Outcome> outcomes;

  private ObservedAttempt(List<AttemptObserver.Outcome> outcomes) {
    this.outcomes = outcomes;
  }

  /** Tells each of {@code observers} that an attempt starts. */
  static ObservedAttempt start(List<AttemptObserver> observers, EventLog log) {
    if (observers.isEmpty()) {
      return NONE;
    }
    @Nullable List<AttemptObserver.Outcome> told = null;
    for (AttemptObserver observer : observers) {
      try {
        AttemptObserver.@Nullable Outcome outcome = observer.started();
        if (outcome != null) {
          if (told == null) {
            told = new ArrayList<>(2);
          }
          told.add(outcome);
        }
      } catch (Throwable t) {
        log.warn("an attempt observer {} threw", observer, t);
      }
    }
    return told == null ? NONE : new ObservedAttempt(told);
  }

  void succeeded(EventLog log) {
    tell(AttemptObserver.Outcome::succeeded, log);
  }

  void failed(ConnectAttemptException error, EventLog log) {
    tell(outcome -> outcome.failed(error), log);
  }

  private void tell(Consumer<AttemptObserver.Outcome> what, EventLog log) {
    for (AttemptObserver.Outcome outcome : outcomes) {
      try {
        what.accept(outcome);
      } catch (Throwable t) {
        log.warn("an attempt observer {} threw", outcome, t);
      }
    }
  }
}
