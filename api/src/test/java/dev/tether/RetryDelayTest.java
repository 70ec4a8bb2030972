package dev.tether;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import org.junit.jupiter.api.Test;

class RetryDelayTest {

  @Test
  void constant_isAlwaysTheSame() {
    RetryDelay delay = RetryDelay.constant(Duration.ofSeconds(3));
    assertEquals(Duration.ofSeconds(3), delay.next(0));
    assertEquals(Duration.ofSeconds(3), delay.next(1000));
  }

  @Test
  @SuppressWarnings("CanonicalDuration") // the values read best as the formula gives them
  void exponential_growsByTheMultiplier_upToMax() {
    RetryDelay delay = RetryDelay.exponential(Duration.ofSeconds(1), Duration.ofSeconds(120), 1.6);
    assertEquals(Duration.ofSeconds(1), delay.next(0));
    assertEquals(Duration.ofSeconds(1, 600_000_000), delay.next(1));
    assertEquals(Duration.ofSeconds(2, 560_000_000), delay.next(2));
    assertEquals(Duration.ofMinutes(2), delay.next(11));
    assertEquals(Duration.ofSeconds(120), delay.next(1000));
    assertEquals(Duration.ofSeconds(120), delay.next(Integer.MAX_VALUE));
  }

  @Test
  void exponential_neverOverflows_evenWithHugeDurations() {
    Duration huge = Duration.ofSeconds(Long.MAX_VALUE / 2);
    RetryDelay delay = RetryDelay.exponential(Duration.ofDays(365), huge, 10);
    assertEquals(huge, delay.next(Integer.MAX_VALUE));
    Duration previous = Duration.ZERO;
    for (int n = 0; n < 40; n++) {
      Duration next = delay.next(n);
      assertTrue(next.compareTo(previous) >= 0, "monotonic at " + n);
      assertTrue(next.compareTo(huge) <= 0);
      previous = next;
    }
  }

  @Test
  void exponential_fromZero_staysZero_andMultiplierOne_staysInitial() {
    assertEquals(Duration.ZERO, RetryDelay.exponential(Duration.ZERO, Duration.ofSeconds(5), 2).next(10));
    assertEquals(
        Duration.ofSeconds(2), RetryDelay.exponential(Duration.ofSeconds(2), Duration.ofSeconds(5), 1).next(10));
  }

  @Test
  void exponential_rejectsBadArguments_namingThem() {
    assertMessage("initial must not be negative", () -> RetryDelay.exponential(Duration.ofSeconds(-1), Duration.ofSeconds(1), 2));
    assertMessage("max (PT1S) must not be less than initial (PT2S)", () -> RetryDelay.exponential(Duration.ofSeconds(2), Duration.ofSeconds(1), 2));
    assertMessage("multiplier must be a finite number >= 1: 0.5", () -> RetryDelay.exponential(Duration.ZERO, Duration.ofSeconds(1), 0.5));
    assertMessage("multiplier", () -> RetryDelay.exponential(Duration.ZERO, Duration.ofSeconds(1), Double.NaN));
    assertMessage("multiplier", () -> RetryDelay.exponential(Duration.ZERO, Duration.ofSeconds(1), Double.POSITIVE_INFINITY));
    assertMessage("delay must not be negative", () -> RetryDelay.constant(Duration.ofNanos(-1)));
  }

  private static void assertMessage(String message, org.junit.jupiter.api.function.Executable call) {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, call);
    assertTrue(String.valueOf(e.getMessage()).contains(message), e.getMessage());
  }

  @Test
  void exponential_isExactToTheNanosecond_notTruncatedBelow() {
    RetryDelay delay = RetryDelay.exponential(Duration.ofMillis(300), Duration.ofSeconds(10), 1.5);
    org.junit.jupiter.api.Assertions.assertEquals(Duration.ofMillis(450), delay.next(1));
    org.junit.jupiter.api.Assertions.assertEquals(Duration.ofMillis(675), delay.next(2));
    org.junit.jupiter.api.Assertions.assertEquals(
        Duration.ofMillis(8100),
        RetryDelay.exponential(Duration.ofMillis(100), Duration.ofSeconds(30), 3).next(4));
    org.junit.jupiter.api.Assertions.assertEquals(
        Duration.ofNanos(1_012_500_000),
        RetryDelay.exponential(Duration.ofMillis(200), Duration.ofSeconds(10), 1.5).next(4));
  }
}
