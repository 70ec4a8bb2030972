package dev.tether.internal;

import dev.tether.ConnectAttemptException;
import dev.tether.ConnectionState;
import java.time.Duration;
import java.util.Locale;

/**
 * A persistent connection's state in words, for people: in a bounded wait's timeout, a log line,
 * or the status of a call that found no connection. Not part of the public API.
 */
public final class StateText {
  private StateText() {}

  /**
   * Describes {@code state}: "waiting to retry, next attempt in 8.2 s; the last attempt failed:
   * connector failed: ...", "connecting; the last connection to 10.0.0.7:443 dropped".
   */
  public static String describe(ConnectionState<?, ?> state) {
    StringBuilder text = new StringBuilder();
    switch (state.status()) {
      case CONNECTING -> text.append("connecting");
      case CONNECTED -> text.append("connected to ").append(state.address());
      case CLOSING -> text.append("closing");
      case CLOSED -> text.append("closed");
      case WAITING_TO_RETRY -> {
        text.append("waiting to retry");
        Duration retryIn = state.retryIn();
        if (retryIn != null) {
          text.append(", next attempt in ").append(seconds(retryIn));
        }
      }
    }
    ConnectAttemptException failure = state.lastFailure();
    if (failure != null) {
      text.append("; the last attempt failed: ").append(failure.getMessage());
    } else if (state.connection() == null && state.connections() > 0) {
      text.append("; the last connection");
      if (state.address() != null && state.status() != ConnectionState.Status.CONNECTING) {
        text.append(" to ").append(state.address());
      }
      text.append(" dropped");
    }
    return text.toString();
  }

  /**
   * What comes after a drop: "reconnecting now", "next attempt in 8.2 s", or "closing".
   */
  public static String next(ConnectionState<?, ?> state) {
    Duration retryIn = state.retryIn();
    return switch (state.status()) {
      case CONNECTING -> "reconnecting now";
      case WAITING_TO_RETRY -> "next attempt in " + seconds(retryIn == null ? Duration.ZERO : retryIn);
      default -> "closing";
    };
  }

  /** A duration as people read it: "8.2 s", "350 ms". */
  public static String seconds(Duration duration) {
    long millis = duration.toMillis();
    return millis < 1000 ? millis + " ms" : String.format(Locale.ROOT, "%.1f s", millis / 1000.0);
  }
}
