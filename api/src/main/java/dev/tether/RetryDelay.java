package dev.tether;

import static com.google.common.base.Preconditions.checkArgument;
import static java.util.Objects.requireNonNull;

import java.time.Duration;

/**
 * How long an attempt's retry timer runs: the least time between the start of one connection
 * attempt and the start of the next.
 *
 * <p>The timer of each attempt starts right before its address lookup. After a failed attempt the
 * next one starts when the timer fires, at once if it already has. After a connection drops, the
 * next round starts when the timer of the successful attempt fires: a connection that lived longer
 * than the delay is replaced at once, one that died young waits out the rest of the delay.
 *
 * <p>The persistent connection calls {@link #next} once per attempt, before the lookup, on the
 * thread that drives its loop, and by default randomizes the result uniformly within ±30%. A
 * delay that throws, or returns {@code null} or a negative duration, is logged and replaced by
 * {@link PersistentConnection.Builder#DEFAULT_RETRY_DELAY} for that attempt.
 */
@FunctionalInterface
public interface RetryDelay {

  /**
   * Returns the delay of the attempt about to start.
   *
   * @param consecutiveFailures how many attempts failed since the last successful one (or since
   *     the start): 0 for the first attempt, and again after every success
   */
  Duration next(int consecutiveFailures);

  /**
   * Returns a delay that is always {@code delay}.
   *
   * @throws NullPointerException if {@code delay} is null
   * @throws IllegalArgumentException if {@code delay} is negative
   */
  static RetryDelay constant(Duration delay) {
    requireNonNull(delay, "delay");
    checkArgument(!delay.isNegative(), "delay must not be negative: %s", delay);
    return new RetryDelays.Constant(delay);
  }

  /**
   * Returns a delay that grows exponentially with the number of consecutive failures: {@code
   * next(n) = min(max, initial * multiplier^n)}, computed without overflow. Randomization, when
   * on, is applied afterwards.
   *
   * @throws NullPointerException if {@code initial} or {@code max} is null
   * @throws IllegalArgumentException if {@code initial} is negative, {@code max} is less than
   *     {@code initial}, or {@code multiplier} is not a finite number of at least 1
   */
  static RetryDelay exponential(Duration initial, Duration max, double multiplier) {
    requireNonNull(initial, "initial");
    requireNonNull(max, "max");
    checkArgument(!initial.isNegative(), "initial must not be negative: %s", initial);
    checkArgument(
        max.compareTo(initial) >= 0, "max (%s) must not be less than initial (%s)", max, initial);
    checkArgument(
        Double.isFinite(multiplier) && multiplier >= 1,
        "multiplier must be a finite number >= 1: %s",
        multiplier);
    return new RetryDelays.Exponential(initial, max, multiplier);
  }
}
