package dev.tether;

import java.time.Duration;

/** The implementations behind {@link RetryDelay}'s factories. */
final class RetryDelays {
  private RetryDelays() {}

  record Constant(Duration delay) implements RetryDelay {
    @Override
    public Duration next(int consecutiveFailures) {
      return delay;
    }

    @Override
    public String toString() {
      return "RetryDelay.constant(" + delay + ")";
    }
  }

  record Exponential(Duration initial, Duration max, double multiplier) implements RetryDelay {
    @Override
    public Duration next(int consecutiveFailures) {
      if (consecutiveFailures <= 0 || initial.isZero() || multiplier == 1) {
        return initial;
      }
      // Work in seconds as doubles: a double never overflows here, it saturates to infinity,
      // and anything at or beyond max is max.
      double factor = Math.pow(multiplier, consecutiveFailures);
      double seconds = toSeconds(initial) * factor;
      if (!(seconds < toSeconds(max))) {
        return max;
      }
      long whole = (long) seconds;
      long nanos = Math.round((seconds - whole) * 1e9); // to the nearest: 0.45 s, not 0.449999999
      Duration result = Duration.ofSeconds(whole, nanos);
      // Rounding can land a hair outside [initial, max]; clamp.
      if (result.compareTo(initial) < 0) {
        return initial;
      }
      return result.compareTo(max) > 0 ? max : result;
    }

    private static double toSeconds(Duration d) {
      return d.getSeconds() + d.getNano() / 1e9;
    }

    @Override
    public String toString() {
      return "RetryDelay.exponential(" + initial + ", " + max + ", " + multiplier + ")";
    }
  }
}
