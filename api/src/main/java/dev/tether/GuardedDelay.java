package dev.tether;

import dev.tether.internal.Durations;
import java.time.Duration;
import java.util.concurrent.ThreadLocalRandom;

/**
 * The delay of each attempt's retry timer: the user's {@link RetryDelay}, guarded (one that
 * throws, returns null or a negative duration is logged, and the default is used for that
 * attempt: zero would make a failing attempt spin), then randomized within ±30% unless that is
 * turned off, in nanoseconds that saturate instead of overflowing.
 */
final class GuardedDelay {
  private final RetryDelay retryDelay;
  private final boolean randomize;
  private final EventLog log;

  GuardedDelay(RetryDelay retryDelay, boolean randomize, EventLog log) {
    this.retryDelay = retryDelay;
    this.randomize = randomize;
    this.log = log;
  }

  long nanos(int consecutiveFailures) {
    Duration fallback = PersistentConnection.Builder.DEFAULT_RETRY_DELAY;
    Duration delay;
    try {
      delay = retryDelay.next(consecutiveFailures);
      if (delay == null || delay.isNegative()) {
        log.warn(
            "retry delay {} returned {}; using {} for this attempt", retryDelay, delay, fallback);
        delay = fallback;
      }
    } catch (Throwable t) {
      log.warn("retry delay {} threw {}; using {} for this attempt", retryDelay, t, fallback);
      delay = fallback;
    }
    long nanos = Durations.saturatedNanos(delay);
    if (!randomize) {
      return nanos;
    }
    double factor = 0.7 + 0.6 * ThreadLocalRandom.current().nextDouble();
    double randomized = nanos * factor;
    return randomized >= Long.MAX_VALUE ? Long.MAX_VALUE : (long) randomized;
  }

}
