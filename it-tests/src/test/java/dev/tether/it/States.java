package dev.tether.it;

import dev.tether.Closable;
import dev.tether.ConnectionState;
import dev.tether.PersistentConnection;
import dev.tether.Subscription;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Predicate;

/** Waits on a persistent connection's states, through a state subscription rather than polling. */
final class States {
  private States() {}

  /**
   * Waits, at most {@code timeoutSeconds}, until {@code connection} passes through a state that
   * {@code wanted} accepts (the current state first); fails naming {@code what} otherwise.
   */
  static <A, C extends Closable> void await(
      PersistentConnection<A, C> connection,
      Predicate<ConnectionState<A, C>> wanted,
      String what,
      long timeoutSeconds)
      throws Exception {
    CompletableFuture<Void> reached = new CompletableFuture<>();
    try (Subscription watching =
        connection.subscribeState(
            state -> {
              if (wanted.test(state)) {
                reached.complete(null);
              }
            })) {
      reached.get(timeoutSeconds, TimeUnit.SECONDS);
    } catch (TimeoutException e) {
      throw new AssertionError(
          "not within " + timeoutSeconds + " s: " + what + "; now " + connection.state(), e);
    }
  }
}
