package dev.tether;

import dev.tether.ConnectAttemptException.Stage;
import org.jspecify.annotations.Nullable;

/**
 * What the loop counts and remembers across states, confined to its serializing context: the
 * round's last address and error (to de-duplicate {@code ObtainedAddress} and {@code
 * FailedToConnect}), the failures since the last connection, and the totals of {@link
 * ConnectionState}. {@link #snapshot} makes a state of these and a {@link LoopState}.
 */
final class Tally<A, C> {
  /** What makes two failures "the same" for de-duplication: stage, class and message of the cause. */
  private record ErrorKey(Stage stage, Class<?> causeClass, @Nullable String causeMessage) {}

  private final EventLog log;
  private @Nullable A roundAddress;
  private @Nullable ErrorKey roundError;
  private @Nullable ConnectAttemptException lastFailure;
  private int consecutiveFailures;
  private long attempts;
  private long connections;

  Tally(EventLog log) {
    this.log = log;
  }

  int consecutiveFailures() {
    return consecutiveFailures;
  }

  /** A round starts: it forgets the address and error of the round before. */
  void newRound() {
    roundAddress = null;
    roundError = null;
  }

  void attemptStarted() {
    attempts++;
  }

  /** The lookup yielded {@code address}; returns whether it differs from the round's last one. */
  boolean obtained(A address) {
    boolean isNew = !sameAddress(address, roundAddress);
    roundAddress = address;
    return isNew;
  }

  /** The round's last address: while connected, the current connection's. */
  @Nullable A roundAddress() {
    return roundAddress;
  }

  /** {@code address.equals(other)}; one that throws is logged and counts as different. */
  boolean sameAddress(A address, @Nullable A other) {
    try {
      return address.equals(other);
    } catch (Throwable t) {
      log.warn("address {}.equals threw; treating it as a new address", address, t);
      return false;
    }
  }

  /** {@code error.getMessage()}, or a fixed text if that throws: a user's error must not kill the loop. */
  private static @Nullable String messageOf(Throwable error) {
    try {
      return error.getMessage();
    } catch (Throwable t) {
      return "(getMessage() threw " + t.getClass().getName() + ")";
    }
  }

  /** An attempt failed with {@code error}; returns whether it differs from the round's last one. */
  boolean failed(ConnectAttemptException error) {
    Throwable cause = error.getCause();
    ErrorKey key =
        new ErrorKey(
            error.stage(),
            cause == null ? error.getClass() : cause.getClass(),
            messageOf(cause == null ? error : cause));
    boolean isNew = !key.equals(roundError);
    roundError = key;
    lastFailure = error;
    if (consecutiveFailures < Integer.MAX_VALUE) {
      consecutiveFailures++;
    }
    return isNew;
  }

  /** A connection is published. */
  void connected() {
    consecutiveFailures = 0;
    lastFailure = null;
    connections++;
  }

  /** The state that {@code state} and these counts make together. */
  Snapshot<A, C> snapshot(LoopState<A, C> state) {
    ConnectionState.Status status = state.status();
    LoopState.Current<C> current = state.current();
    return new Snapshot<>(
        new ConnectionState<>(
            status,
            roundAddress,
            current == null ? null : current.connection(),
            lastFailure,
            consecutiveFailures,
            null,
            state.standbyAddress(),
            attempts,
            connections),
        status == ConnectionState.Status.WAITING_TO_RETRY ? state.timer() : null);
  }

  /**
   * A published state, and the retry timer whose time left fills in {@code retryIn} when it is
   * read (none before the first round: zero then). Immutable; read by any thread.
   */
  record Snapshot<A, C>(ConnectionState<A, C> state, @Nullable RetryTimer timer) {
    /**
     * Whether {@code other} holds the very same things: compared by identity and value, never
     * by users' {@code equals}, which may throw.
     */
    boolean sameAs(Snapshot<A, C> other) {
      ConnectionState<A, C> that = other.state;
      return timer == other.timer
          && state.status() == that.status()
          && state.address() == that.address()
          && state.connection() == that.connection()
          && state.lastFailure() == that.lastFailure()
          && state.consecutiveFailures() == that.consecutiveFailures()
          && state.standbyAddress() == that.standbyAddress()
          && state.attempts() == that.attempts()
          && state.connections() == that.connections();
    }

    ConnectionState<A, C> read() {
      if (state.status() != ConnectionState.Status.WAITING_TO_RETRY) {
        return state;
      }
      long nanos = timer == null ? 0 : timer.remainingNanos();
      return state.with(state.status(), java.time.Duration.ofNanos(nanos));
    }
  }
}
