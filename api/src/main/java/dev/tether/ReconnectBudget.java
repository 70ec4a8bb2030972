package dev.tether;

import static com.google.common.base.Preconditions.checkArgument;
import static java.util.Objects.requireNonNull;

import com.google.common.base.Ticker;
import java.util.Locale;

/**
 * How fast the persistent connections that share this budget may start attempts, together: a
 * token bucket that holds {@code burst} tokens at first and refills {@code attemptsPerSecond},
 * up to {@code burst}. Give one instance to many persistent connections (all those of a process
 * to one service, say) so that when they all drop at once, as when a load balancer restarts, they
 * do not all reconnect in the same millisecond.
 *
 * <p>Each attempt, of a round, a handover or a standby, reserves the next free token before it
 * starts and starts when that token is due; its retry timer starts then, with its lookup. A round
 * waiting for its token shows {@link ConnectionState.Status#WAITING_TO_RETRY} with {@code
 * retryIn} the wait. Reservations are served in the order they were made and are never given
 * back, also when the attempt does not happen (its persistent connection closed, {@link
 * PersistentConnection#retryNow()} cut the wait short). {@code retryNow()} takes no token.
 *
 * <p>Thread-safe; reserving is a few arithmetic operations under a lock that never runs other
 * code. Time comes from the budget's {@link Ticker}: the system's by default; {@code
 * VirtualTimeScheduler.ticker()} in tests, so that the budget and the persistent connections'
 * scheduler share one virtual clock.
 */
public final class ReconnectBudget {
  private static final ReconnectBudget UNLIMITED = new ReconnectBudget(0, 0, Ticker.systemTicker());

  /** Nanoseconds between two tokens; 0: unlimited. */
  private final long intervalNanos;
  /** How far ahead of the time of the last reservation the bucket lets one start: (burst-1) tokens. */
  private final long burstNanos;
  private final Ticker ticker;
  private final String description;
  private final Object lock = new Object();
  /** When the bucket is empty again if nobody takes a token: the theoretical arrival time. */
  private long emptyUntilNanos; // guarded by lock
  private boolean started; // guarded by lock

  private ReconnectBudget(long intervalNanos, int burst, Ticker ticker) {
    this.intervalNanos = intervalNanos;
    this.burstNanos = intervalNanos * Math.max(0, burst - 1);
    this.ticker = ticker;
    this.description =
        intervalNanos == 0
            ? "ReconnectBudget.unlimited()"
            : String.format(
                Locale.ROOT, "ReconnectBudget[%.6g/s, burst %d]", 1e9 / intervalNanos, burst);
  }

  /** A budget that never makes an attempt wait: the default. */
  public static ReconnectBudget unlimited() {
    return UNLIMITED;
  }

  /**
   * A budget of {@code attemptsPerSecond}, with {@code burst} attempts at once, on the system's
   * clock.
   *
   * @throws IllegalArgumentException if {@code attemptsPerSecond} is not positive and finite, or
   *     {@code burst} is below 1
   */
  public static ReconnectBudget perSecond(double attemptsPerSecond, int burst) {
    return perSecond(attemptsPerSecond, burst, Ticker.systemTicker());
  }

  /**
   * A budget of {@code attemptsPerSecond}, with {@code burst} attempts at once, on {@code ticker}'s
   * clock.
   *
   * @throws IllegalArgumentException if {@code attemptsPerSecond} is not positive and finite, or
   *     {@code burst} is below 1
   * @throws NullPointerException if {@code ticker} is null
   */
  public static ReconnectBudget perSecond(double attemptsPerSecond, int burst, Ticker ticker) {
    checkArgument(
        attemptsPerSecond > 0 && Double.isFinite(attemptsPerSecond),
        "attemptsPerSecond must be positive and finite: %s",
        attemptsPerSecond);
    checkArgument(burst >= 1, "burst must be at least 1: %s", burst);
    requireNonNull(ticker, "ticker");
    long interval = (long) Math.ceil(1e9 / attemptsPerSecond);
    checkArgument(
        interval > 0 && interval <= Long.MAX_VALUE / burst,
        "attemptsPerSecond is out of range: %s",
        attemptsPerSecond);
    return new ReconnectBudget(interval, burst, ticker);
  }

  /** Whether this budget never makes an attempt wait. */
  boolean isUnlimited() {
    return intervalNanos == 0;
  }

  /**
   * Reserves the next free token; returns how long from now until it is due, in nanoseconds (0:
   * at once). Any thread.
   */
  long reserveNanos() {
    if (intervalNanos == 0) {
      return 0;
    }
    long now = ticker.read(); // user code: never under the lock that every connection shares
    synchronized (lock) {
      if (!started || emptyUntilNanos - now < 0) {
        emptyUntilNanos = now; // a full bucket: its tokens were not used, and do not pile up
        started = true;
      }
      // Due when the bucket, emptying one token per interval, has room: burst - 1 tokens ahead.
      long due = Math.max(now, emptyUntilNanos - burstNanos);
      emptyUntilNanos += intervalNanos;
      return due - now;
    }
  }

  @Override
  public String toString() {
    return description;
  }
}
