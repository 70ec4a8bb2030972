/**
 * A persistent connection: keeps a client connected to a service for as long as the client
 * lives.
 *
 * <p>Start at {@link dev.tether.PersistentConnection#builder(String)}. Each connection attempt
 * looks the service's address up again through an {@link dev.tether.AddressLookup}, so redundant
 * replicas that publish their location in a catalog give failover for free; a {@link
 * dev.tether.Connector} turns the address into a {@link dev.tether.Closable} connection. The
 * persistent connection reports what it does as {@link dev.tether.Event}s, retries failed
 * attempts after a randomized {@link dev.tether.RetryDelay}, reconnects at once when a long-lived
 * connection drops, and closes cleanly.
 *
 * <p>Every type in this package is null-marked: a parameter or result may be {@code null} only
 * where it is annotated {@link org.jspecify.annotations.Nullable}.
 */
@NullMarked
package dev.tether;

import org.jspecify.annotations.NullMarked;
