package dev.tether;

import dev.tether.internal.AttemptObserver;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;
import org.jspecify.annotations.Nullable;

/**
 * What the {@link AttemptObserver}s of a persistent connection were told of one attempt's start,
 * kept by the attempt to tell them of its end: those told of the start through the outcome each
 * returned, those added since through {@link AttemptObserver#joinedLate()}. Confined to the
 * serializing context; each observer is guarded, so that one that throws is logged and the loop's
 * step goes on.
 */
final class ObservedAttempt {
  /** An attempt that started with no observer: nearly every attempt, with no allocation. */
  static final ObservedAttempt NONE = new ObservedAttempt(List.of(), List.of());

  /** The observers told of the start, and what each returned (null: tell it nothing more). */
  private final List<AttemptObserver> told;
  private final List<AttemptObserver.@Nullable Outcome> outcomes;

  private ObservedAttempt(
      List<AttemptObserver> told, List<AttemptObserver.@Nullable Outcome> outcomes) {
    this.told = told;
    this.outcomes = outcomes;
  }

  /** Tells each of {@code observers} that an attempt starts. */
  static ObservedAttempt start(List<AttemptObserver> observers, EventLog log) {
    if (observers.isEmpty()) {
      return NONE;
    }
    List<AttemptObserver> told = new ArrayList<>(2);
    List<AttemptObserver.@Nullable Outcome> outcomes = new ArrayList<>(2);
    for (AttemptObserver observer : observers) {
      AttemptObserver.@Nullable Outcome outcome = null;
      try {
        outcome = observer.started();
      } catch (Throwable t) {
        log.warn("an attempt observer {} threw", observer, t);
      }
      told.add(observer);
      outcomes.add(outcome);
    }
    return new ObservedAttempt(told, outcomes);
  }

  /**
   * Tells how the attempt ended ({@code how}): to each observer told of its start (even one
   * removed since), and to each of {@code now} added since.
   */
  void ended(List<AttemptObserver> now, Consumer<AttemptObserver.Outcome> how, EventLog log) {
    for (AttemptObserver.@Nullable Outcome outcome : outcomes) {
      if (outcome != null) {
        tell(outcome, how, log);
      }
    }
    for (AttemptObserver observer : now) {
      if (!wasTold(observer)) {
        AttemptObserver.@Nullable Outcome late = null;
        try {
          late = observer.joinedLate();
        } catch (Throwable t) {
          log.warn("an attempt observer {} threw", observer, t);
        }
        if (late != null) {
          tell(late, how, log);
        }
      }
    }
  }

  private boolean wasTold(AttemptObserver observer) {
    for (AttemptObserver one : told) {
      if (one == observer) {
        return true;
      }
    }
    return false;
  }

  private static void tell(
      AttemptObserver.Outcome outcome, Consumer<AttemptObserver.Outcome> how, EventLog log) {
    try {
      how.accept(outcome);
    } catch (Throwable t) {
      log.warn("an attempt observer {} threw", outcome, t);
    }
  }
}
