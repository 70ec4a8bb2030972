package dev.tether;

import static java.util.Objects.requireNonNull;

/**
 * The error of a {@link Event.FailedToConnect}: which part of the attempt failed, with the user's
 * error as its cause.
 *
 * <p>The message starts with {@code "address lookup"} or {@code "connector"} and then gives the
 * cause. The library's own words in it never include the address: the {@link
 * Event.ObtainedAddress} event before it already says that. A synchronous throw and the same
 * exception in a failed future give the same {@code ConnectAttemptException}.
 *
 * <p>The exception carries no stack trace of its own (it would only show the library's loop);
 * the cause keeps its stack trace.
 */
public final class ConnectAttemptException extends Exception {
  private static final long serialVersionUID = 1L;

  /** Which part of a connection attempt failed. */
  public enum Stage {
    /** The {@link AddressLookup} failed. */
    LOOKUP,
    /** The {@link Connector} failed. */
    CONNECT,
    /** The {@link ConnectionInitializer} failed, or the connection closed while it ran. */
    INITIALIZE
  }

  private final Stage stage;

  /**
   * Creates the exception.
   *
   * @param stage the part of the attempt that failed
   * @param cause the error that part produced
   */
  public ConnectAttemptException(Stage stage, Throwable cause) {
    super(messageOf(stage, cause), requireNonNull(cause, "cause"), false, false);
    this.stage = stage;
  }

  private static String messageOf(Stage stage, Throwable cause) {
    requireNonNull(stage, "stage");
    requireNonNull(cause, "cause");
    String what =
        switch (stage) {
          case LOOKUP -> "address lookup";
          case CONNECT -> "connector";
          case INITIALIZE -> "initializer";
        };
    return what + " failed: " + describe(cause);
  }

  /**
   * {@code cause.toString()}, or its class if that throws: a user's error whose message cannot be
   * built must still fail the attempt, not the loop.
   */
  static String describe(Throwable cause) {
    try {
      return String.valueOf(cause);
    } catch (Throwable t) {
      return cause.getClass().getName() + " (its toString() threw " + t.getClass().getName() + ")";
    }
  }

  /** Returns which part of the attempt failed. */
  public Stage stage() {
    return stage;
  }
}
