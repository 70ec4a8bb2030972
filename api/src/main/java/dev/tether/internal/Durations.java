package dev.tether.internal;

import java.time.Duration;

/** Durations as the schedulers want them. Not part of the public API. */
public final class Durations {
  private Durations() {}

  /**
   * Returns {@code duration} in nanoseconds, or {@code Long.MAX_VALUE} (about 292 years) if it is
   * longer, {@code Long.MIN_VALUE} if it is more negative: never an overflow.
   */
  public static long saturatedNanos(Duration duration) {
    try {
      return duration.toNanos();
    } catch (ArithmeticException e) {
      return duration.isNegative() ? Long.MIN_VALUE : Long.MAX_VALUE;
    }
  }
}
