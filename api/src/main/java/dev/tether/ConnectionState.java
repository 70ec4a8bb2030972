package dev.tether;

import java.time.Duration;
import org.jspecify.annotations.Nullable;

/**
 * A consistent snapshot of a persistent connection: what {@link PersistentConnection#state()}
 * returns and what a {@link StateListener} gets. Unlike events, which are de-duplicated within a
 * round, states show every transition, so dashboards, health checks and metrics build on them.
 *
 * @param status what the loop is doing
 * @param address the current connection's address, else the last address the current round
 *     obtained; a new round forgets it until its lookup answers
 * @param connection the current connection, as {@link PersistentConnection#currentConnection()}
 * @param lastFailure the last failed attempt since the last connection was published, also when
 *     its {@code FailedToConnect} event was de-duplicated; cleared by {@code Connected}
 * @param consecutiveFailures the failures since the last connection: what {@link RetryDelay#next}
 *     was or will be given
 * @param retryIn {@link Status#WAITING_TO_RETRY} only: the time left until the next attempt on the
 *     scheduler's clock (virtual time included), never negative; zero before the first round
 * @param standbyAddress the address of a prepared standby connection, if there is one
 * @param attempts the attempts started since {@code build()}, counted when their lookup starts
 * @param connections the connections published since {@code build()}
 * @param <A> the address type
 * @param <C> the connection type
 */
public record ConnectionState<A, C>(
    Status status,
    @Nullable A address,
    @Nullable C connection,
    @Nullable ConnectAttemptException lastFailure,
    int consecutiveFailures,
    @Nullable Duration retryIn,
    @Nullable A standbyAddress,
    long attempts,
    long connections) {

  /** What the loop of a persistent connection is doing. */
  public enum Status {
    /** A lookup, connect or initializer of the loop is in flight. */
    CONNECTING,
    /**
     * The loop waits for a retry timer: after a failure, after a young connection died, or
     * before the first round.
     */
    WAITING_TO_RETRY,
    /** A connection is current. */
    CONNECTED,
    /** {@code close()} was called and closing has not finished. */
    CLOSING,
    /** Closing has finished; nothing changes any more. */
    CLOSED
  }

  /** This state with another status and time to the next attempt: the rest is kept. */
  ConnectionState<A, C> with(Status newStatus, @Nullable Duration newRetryIn) {
    return new ConnectionState<>(
        newStatus,
        address,
        connection,
        lastFailure,
        consecutiveFailures,
        newRetryIn,
        standbyAddress,
        attempts,
        connections);
  }

  /**
   * Whether {@code other} differs from this state in what a {@link StateListener} is told about:
   * status, address, connection, last failure, consecutive failures or standby address.
   */
  boolean differsFrom(ConnectionState<A, C> other) {
    return status != other.status
        || !sameAddress(address, other.address)
        || connection != other.connection
        || lastFailure != other.lastFailure
        || consecutiveFailures != other.consecutiveFailures
        || !sameAddress(standbyAddress, other.standbyAddress);
  }

  /** {@code equals} of two addresses; one that throws counts as different. */
  private static boolean sameAddress(@Nullable Object a, @Nullable Object b) {
    try {
      return java.util.Objects.equals(a, b);
    } catch (RuntimeException e) {
      return false;
    }
  }
}
