package dev.tether.guice;

import static com.google.common.util.concurrent.MoreExecutors.directExecutor;

import com.google.common.collect.ImmutableMap;
import com.google.common.util.concurrent.Futures;
import com.google.common.util.concurrent.ListenableFuture;
import dev.tether.PersistentConnection;
import jakarta.inject.Inject;
import jakarta.inject.Singleton;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The persistent connections that one injector made through {@link GrpcConnectionModule}, and one
 * place to close them all.
 *
 * <p>Inject it (it is a singleton per injector) and call {@link #closeAll()} when the application
 * stops. A connection that is first provisioned after {@code closeAll()} is closed at once; the
 * future {@code closeAll()} returned does not wait for it.
 *
 * <p>Thread-safe. The registry's lock guards only its own map: it never calls into a persistent
 * connection while holding it, since closing one runs user code (listeners, connections'
 * {@code close()}) on the calling thread, which may wait for another thread that reads the
 * registry.
 */
@Singleton
public final class ConnectionRegistry {
  private final Map<String, PersistentConnection<?, ?>> connections = new LinkedHashMap<>();
  private boolean closed;

  @Inject
  ConnectionRegistry() {}

  void register(String name, PersistentConnection<?, ?> connection) {
    boolean closeAtOnce;
    synchronized (this) {
      connections.put(name, connection);
      closeAtOnce = closed;
    }
    // Either closeAll() saw this connection under the lock, or this sees its flag: a connection
    // registered while closeAll() runs is closed by one or the other (close() is idempotent).
    if (closeAtOnce) {
      ListenableFuture<Void> unused = connection.close();
    }
  }

  /** Returns the connections made so far, by name, in the order they were made. */
  public synchronized Map<String, PersistentConnection<?, ?>> connections() {
    return ImmutableMap.copyOf(connections);
  }

  /**
   * Closes every connection made so far and returns a future that completes when every one has
   * finished closing (its channel terminated). Idempotent.
   */
  public ListenableFuture<Void> closeAll() {
    List<PersistentConnection<?, ?>> toClose;
    synchronized (this) {
      closed = true;
      toClose = new ArrayList<>(connections.values());
    }
    List<ListenableFuture<Void>> closing = new ArrayList<>();
    for (PersistentConnection<?, ?> connection : toClose) {
      closing.add(connection.close());
    }
    return Futures.whenAllComplete(closing).call(() -> null, directExecutor());
  }

  @Override
  public synchronized String toString() {
    return "ConnectionRegistry" + connections.keySet();
  }
}
