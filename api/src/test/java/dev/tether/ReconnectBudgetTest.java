package dev.tether;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tether.testing.VirtualTimeScheduler;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** DESIGN 7.7: the budget's token bucket, on virtual time. */
class ReconnectBudgetTest {
  private final VirtualTimeScheduler time = VirtualTimeScheduler.create();

  @Test
  void burstAtOnce_thenOneTokenPerInterval_inTheOrderReserved() {
    ReconnectBudget budget = ReconnectBudget.perSecond(100, 10, time.ticker());
    for (int i = 0; i < 1_000; i++) {
      long expected = i < 10 ? 0 : TimeUnit.MILLISECONDS.toNanos(10L * (i - 9));
      assertEquals(expected, budget.reserveNanos(), "reservation " + i);
    }
  }

  @Test
  void timePassing_refillsTheBucket_butNeverAboveTheBurst() {
    ReconnectBudget budget = ReconnectBudget.perSecond(10, 3, time.ticker());
    for (int i = 0; i < 3; i++) {
      assertEquals(0, budget.reserveNanos());
    }
    assertEquals(TimeUnit.MILLISECONDS.toNanos(100), budget.reserveNanos());
    time.advance(Duration.ofMillis(250)); // the token reserved for 100 ms is used; 1.5 refilled
    assertEquals(0, budget.reserveNanos());
    assertEquals(TimeUnit.MILLISECONDS.toNanos(50), budget.reserveNanos());

    time.advance(Duration.ofHours(1)); // idle for long: full again, and only full
    for (int i = 0; i < 3; i++) {
      assertEquals(0, budget.reserveNanos(), "token " + i + " of the burst");
    }
    assertEquals(TimeUnit.MILLISECONDS.toNanos(100), budget.reserveNanos());
  }

  @Test
  void unlimited_neverWaits() {
    ReconnectBudget budget = ReconnectBudget.unlimited();
    for (int i = 0; i < 100; i++) {
      assertEquals(0, budget.reserveNanos());
    }
    assertTrue(budget.isUnlimited());
    assertEquals("ReconnectBudget.unlimited()", budget.toString());
  }

  @Test
  @SuppressWarnings("NullAway") // the null is the point
  void badInput_failsAtOnce_namingIt() {
    assertMessage("attemptsPerSecond", () -> ReconnectBudget.perSecond(0, 1));
    assertMessage("attemptsPerSecond", () -> ReconnectBudget.perSecond(-1, 1));
    assertMessage("attemptsPerSecond", () -> ReconnectBudget.perSecond(Double.NaN, 1));
    assertMessage("attemptsPerSecond", () -> ReconnectBudget.perSecond(Double.POSITIVE_INFINITY, 1));
    assertMessage("burst", () -> ReconnectBudget.perSecond(1, 0));
    NullPointerException nullTicker =
        assertThrows(NullPointerException.class, () -> ReconnectBudget.perSecond(1, 1, null));
    assertEquals("ticker", nullTicker.getMessage());
  }

  @Test
  void toString_saysTheRateAndBurst() {
    assertEquals("ReconnectBudget[100.000/s, burst 10]", ReconnectBudget.perSecond(100, 10).toString());
  }

  private static void assertMessage(String name, org.junit.jupiter.api.function.Executable call) {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, call);
    assertTrue(String.valueOf(e.getMessage()).startsWith(name), e.getMessage());
  }
}
