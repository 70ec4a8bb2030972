package dev.tether;

import static java.util.Objects.requireNonNull;

/**
 * What a {@link PersistentConnection} did: one of five immutable records.
 *
 * <p>A round of connecting starts with {@link AttemptingToConnect}, emitted once per round. Each
 * attempt of the round then reports {@link ObtainedAddress} when its lookup succeeds, and ends in
 * {@link FailedToConnect} or {@link Connected}. After {@code Connected} the next event is {@link
 * Disconnected}, and if the persistent connection is still open, a new round follows.
 *
 * <p>{@code ObtainedAddress} and {@code FailedToConnect} are emitted only when different from the
 * previous event of the same kind in the same round: addresses are compared with {@code equals},
 * errors by {@link ConnectAttemptException#stage()} and by the class and message of their cause.
 *
 * <p>The interface is sealed, so a {@code switch} (Java) or {@code when} (Kotlin) over the five
 * records needs no default branch.
 *
 * @param <A> the address type
 * @param <C> the connection type
 */
public sealed interface Event<A, C>
    permits Event.AttemptingToConnect,
        Event.ObtainedAddress,
        Event.FailedToConnect,
        Event.Connected,
        Event.Disconnected {

  /** A round of connecting begins. Emitted once per round, not once per attempt. */
  record AttemptingToConnect<A, C>() implements Event<A, C> {
    /** Returns {@code "AttemptingToConnect"}. */
    @Override
    public String toString() {
      return "AttemptingToConnect";
    }
  }

  /**
   * The address lookup of an attempt returned {@code address}; connecting to it comes next.
   *
   * @param address the address the lookup returned
   */
  record ObtainedAddress<A, C>(A address) implements Event<A, C> {
    /** Creates the event; {@code address} must not be null. */
    public ObtainedAddress {
      requireNonNull(address, "address");
    }
  }

  /**
   * An attempt failed. The persistent connection tries again when the attempt's retry delay has
   * passed.
   *
   * @param error a {@link ConnectAttemptException} when the persistent connection reports it:
   *     its {@linkplain ConnectAttemptException#stage() stage} tells whether the lookup, the
   *     connector or the initializer failed, and its cause is the error that part produced
   */
  record FailedToConnect<A, C>(Throwable error) implements Event<A, C> {
    /** Creates the event; {@code error} must not be null. */
    public FailedToConnect {
      requireNonNull(error, "error");
    }
  }

  /**
   * An attempt succeeded: {@code connection} is now {@linkplain
   * PersistentConnection#currentConnection() current}.
   *
   * @param connection the new current connection
   */
  record Connected<A, C>(C connection) implements Event<A, C> {
    /** Creates the event; {@code connection} must not be null. */
    public Connected {
      requireNonNull(connection, "connection");
    }
  }

  /**
   * The current connection finished closing: it dropped, or the persistent connection closed it.
   * {@link PersistentConnection#currentConnection()} is {@code null} from just before this event.
   */
  record Disconnected<A, C>() implements Event<A, C> {
    /** Returns {@code "Disconnected"}. */
    @Override
    public String toString() {
      return "Disconnected";
    }
  }
}
