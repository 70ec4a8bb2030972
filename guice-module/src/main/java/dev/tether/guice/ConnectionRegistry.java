package dev.tether.guice;

import static com.google.common.util.concurrent.MoreExecutors.directExecutor;

import com.google.common.collect.ImmutableMap;
import com.google.common.util.concurrent.Futures;
import com.google.common.util.concurrent.ListenableFuture;
import dev.tether.ConnectionState;
import dev.tether.PersistentConnection;
import dev.tether.Subscription;
import jakarta.inject.Inject;
import jakarta.inject.Singleton;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.jspecify.annotations.Nullable;

/**
 * The persistent connections that one injector made through {@link GrpcConnectionModule}, their
 * states, and one place to close them all.
 *
 * <pre>{@code
 * // A health endpoint: healthy when every named connection is connected.
 * boolean healthy = registry.states().values().stream()
 *     .allMatch(state -> state.status() == ConnectionState.Status.CONNECTED);
 * }</pre>
 *
 * <p>Inject it (it is a singleton per injector) and call {@link #closeAll()} when the application
 * stops. A connection that is first provisioned after {@code closeAll()} is closed at once; the
 * future {@code closeAll()} returned does not wait for it.
 *
 * <p>Guice makes the registry in the injector that first needs it, or in an ancestor: child
 * injectors that each declare connections share their parent's registry, and {@link #closeAll()}
 * closes the connections of all of them: a child injector's connections are not closed apart from
 * the others', and live until that {@code closeAll()}. Two that declare the same
 * name are listed under it by the later one; both are closed. A {@link
 * dev.tether.ReconnectBudget} bound in an injector (as an instance, or a singleton) is shared by
 * its connections and those of its children.
 *
 * <p>The modules do not bind the registry themselves, so that child injectors can declare
 * connections too; Guice binds it just in time. An injector that {@linkplain
 * com.google.inject.Binder#requireExplicitBindings() requires explicit bindings} must bind it once,
 * in the injector whose connections it is to close: {@code bind(ConnectionRegistry.class);}.
 *
 * <p>Thread-safe. The registry's lock guards only its own map: it never calls into a persistent
 * connection while holding it, since closing one runs user code (listeners, connections'
 * {@code close()}) on the calling thread, which may wait for another thread that reads the
 * registry.
 */
@Singleton
public final class ConnectionRegistry {
  private final Map<String, PersistentConnection<?, ?>> connections = new LinkedHashMap<>();
  /** Every connection registered, also one whose name a later one took: each is closed. */
  private final List<PersistentConnection<?, ?>> all = new ArrayList<>();
  private final Map<PersistentConnection<?, ?>, Subscription> meters = new LinkedHashMap<>();
  private boolean closed;

  @Inject
  ConnectionRegistry() {}

  /** Lists {@code connection}, with the subscription of its meters if it has some. */
  void register(String name, PersistentConnection<?, ?> connection, @Nullable Subscription metrics) {
    boolean closeAtOnce;
    synchronized (this) {
      connections.put(name, connection);
      all.add(connection);
      if (metrics != null) {
        meters.put(connection, metrics);
      }
      closeAtOnce = closed;
    }
    // Either closeAll() saw this connection under the lock, or this sees its flag: a connection
    // registered while closeAll() runs is closed by one or the other (close() is idempotent).
    if (closeAtOnce) {
      ListenableFuture<Void> closing = connection.close();
      if (metrics != null) {
        closing.addListener(metrics::close, directExecutor());
      }
    }
  }

  /**
   * Returns the state of every connection made so far, by name, in the order they were made: a
   * snapshot, read without holding any lock while the connections are asked.
   */
  public Map<String, ConnectionState<?, ?>> states() {
    Map<String, ConnectionState<?, ?>> states = new LinkedHashMap<>();
    connections().forEach((name, connection) -> states.put(name, connection.state()));
    return ImmutableMap.copyOf(states);
  }

  /** Returns the connections made so far, by name, in the order they were made. */
  public synchronized Map<String, PersistentConnection<?, ?>> connections() {
    return ImmutableMap.copyOf(connections);
  }

  /**
   * Closes every connection made so far and returns a future that completes when every one has
   * finished closing (its channel terminated) and their meters, if any, are removed. Idempotent.
   * Closes them on the calling thread without holding the registry's lock.
   */
  public ListenableFuture<Void> closeAll() {
    List<PersistentConnection<?, ?>> toClose;
    Map<PersistentConnection<?, ?>, Subscription> metrics;
    synchronized (this) {
      closed = true;
      toClose = new ArrayList<>(all);
      metrics = new LinkedHashMap<>(meters);
    }
    List<ListenableFuture<Void>> closing = new ArrayList<>();
    for (PersistentConnection<?, ?> connection : toClose) {
      ListenableFuture<Void> closed = connection.close();
      Subscription bound = metrics.get(connection);
      if (bound != null) { // its last values stay until it has closed
        closed.addListener(bound::close, directExecutor());
      }
      closing.add(closed);
    }
    return Futures.whenAllComplete(closing).call(() -> null, directExecutor());
  }

  @Override
  public synchronized String toString() {
    return "ConnectionRegistry" + connections.keySet();
  }
}
