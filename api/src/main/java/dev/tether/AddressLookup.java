package dev.tether;

import com.google.common.util.concurrent.ListenableFuture;

/**
 * Finds the address of the service, once per connection attempt.
 *
 * <p>Looking the address up again on every attempt is what gives failover: if redundant replicas
 * publish their location in a catalog, the lookup returns a live one after the previous one died.
 *
 * <p>The lookup runs on whichever thread drives the persistent connection's loop at that moment
 * (see {@link PersistentConnection}), never under a library lock, and must not block: a lookup
 * that has to wait returns a future that its own executor completes.
 *
 * @param <A> the address type, compared with {@link Object#equals} to de-duplicate {@link
 *     Event.ObtainedAddress} events
 */
@FunctionalInterface
public interface AddressLookup<A> {

  /**
   * Starts looking the address up.
   *
   * <p>A synchronous throw, a failed future, a {@code null} future or a {@code null} result all
   * fail the attempt: the persistent connection reports {@link Event.FailedToConnect} with a
   * {@link ConnectAttemptException} of stage {@link ConnectAttemptException.Stage#LOOKUP} and
   * tries again after the retry delay.
   *
   * <p>If the persistent connection is closed while the lookup runs, it cancels the returned
   * future.
   */
  ListenableFuture<A> lookup() throws Exception;
}
