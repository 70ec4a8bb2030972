package dev.tether.zookeeper;

import static com.google.common.base.Preconditions.checkArgument;
import static com.google.common.base.Preconditions.checkState;
import static java.util.Objects.requireNonNull;

import com.google.common.net.HostAndPort;
import com.google.common.util.concurrent.Futures;
import com.google.common.util.concurrent.ListenableFuture;
import dev.tether.AddressLookup;
import dev.tether.ConnectionState;
import dev.tether.PersistentConnection;
import dev.tether.Subscription;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.utils.PathUtils;
import org.apache.curator.x.discovery.ServiceCache;
import org.apache.curator.x.discovery.ServiceDiscovery;
import org.apache.curator.x.discovery.ServiceDiscoveryBuilder;
import org.apache.curator.x.discovery.ServiceInstance;
import org.apache.curator.x.discovery.ServiceType;
import org.apache.curator.x.discovery.details.ServiceCacheListener;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A service catalog on ZooKeeper, through Curator's service discovery ({@code
 * curator-x-discovery}): replicas {@link #register} their address under a service name, and
 * clients {@link #lookup} it, so that redundant replicas give failover for free, as the seed of
 * {@code Persistent_connection} describes: "if one copy dies, we get the address of another one".
 *
 * <pre>{@code
 * ZooKeeperCatalog catalog = ZooKeeperCatalog.create(curator, "/services");
 * Registration here = catalog.register("orders", HostAndPort.fromParts("10.0.0.7", 50051)); // replica
 * PersistentConnection<HostAndPort, GrpcConnection<HostAndPort>> orders =
 *     GrpcConnector.persistentConnection("orders", ChannelFactory.plaintext())
 *         .addressLookup(catalog.lookup("orders"))                                     // client
 *         .build();
 * Subscription moves = catalog.followMoves("orders", orders); // a replica that leaves: handOver()
 * }</pre>
 *
 * <p><b>Lookups never wait for ZooKeeper.</b> The first {@link #lookup} or {@link #followMoves} of
 * a service starts a watched cache of its instances (Curator's {@code ServiceCache}, one per
 * service, shared); each lookup answers from it at once, on the loop's thread. While ZooKeeper is
 * away the cache keeps what it last knew, so clients reconnect to the replicas they knew of. A
 * lookup fails, and the loop retries as usual, when the service has no instance, or when the
 * cache has not loaded yet; the message names the service and the base path.
 *
 * <p><b>Which instance.</b> A persistent connection looks the address up again only after its
 * last answer failed or dropped (or for a standby or a handover), so each {@link AddressLookup}
 * prefers, at random, an instance other than the one it answered last, when there is one: a
 * replica killed with {@code kill -9} stays listed until its ZooKeeper session times out, and is
 * then tried at most once in a row.
 *
 * <p><b>Registrations</b> are ephemeral nodes: a replica whose process dies leaves the catalog when
 * its session times out; one whose session is lost and renewed is put back (Curator re-registers
 * on reconnection). {@link #register} and {@link Registration#close()} are ZooKeeper round trips on
 * the calling thread: call them from a replica's start-up and shutdown, not from a loop.
 *
 * <p>The catalog does not own the {@link CuratorFramework}: start it before, and close it after,
 * the catalog. {@link #close()} closes the caches and leaves the catalog for every registration
 * still open. Thread-safe.
 */
public final class ZooKeeperCatalog implements AutoCloseable {
  private static final Logger logger = LoggerFactory.getLogger(ZooKeeperCatalog.class);

  private final String basePath;
  private final ServiceDiscovery<Void> discovery;
  /** One started cache per service, made by the first lookup or followMoves of that service. */
  private final Map<String, Cache> caches = new ConcurrentHashMap<>();
  private final AtomicBoolean closed = new AtomicBoolean();

  /** A service's watched cache, and whether its first load is done. */
  private record Cache(ServiceCache<Void> instances, CountDownLatch loaded) {}

  private ZooKeeperCatalog(String basePath, ServiceDiscovery<Void> discovery) {
    this.basePath = basePath;
    this.discovery = discovery;
  }

  /**
   * Returns a catalog of the services under {@code basePath} (a ZooKeeper path such as {@code
   * "/services"}), through {@code client}, which the catalog uses but does not own. Talks to
   * ZooKeeper only when asked to register, look up or follow.
   *
   * @throws NullPointerException if {@code client} or {@code basePath} is null
   * @throws IllegalArgumentException if {@code basePath} is not a valid ZooKeeper path
   */
  public static ZooKeeperCatalog create(CuratorFramework client, String basePath) {
    requireNonNull(client, "client");
    requireNonNull(basePath, "basePath");
    try {
      PathUtils.validatePath(basePath);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("basePath is not a valid ZooKeeper path: " + basePath, e);
    }
    ServiceDiscovery<Void> discovery =
        ServiceDiscoveryBuilder.builder(Void.class).client(client).basePath(basePath).build();
    try {
      discovery.start(); // registers nothing yet: no round trip
    } catch (Exception e) {
      throw new IllegalStateException("could not start the catalog at " + basePath, e);
    }
    return new ZooKeeperCatalog(basePath, discovery);
  }

  /**
   * Lists {@code address} as an instance of {@code service} until the returned registration is
   * closed (or this catalog is). A ZooKeeper round trip on the calling thread.
   *
   * @throws NullPointerException if {@code service} or {@code address} is null
   * @throws IllegalArgumentException if {@code service} is blank or {@code address} has no port
   * @throws IllegalStateException if this catalog is closed, or ZooKeeper refused the
   *     registration (its cause says why)
   */
  public Registration register(String service, HostAndPort address) {
    checkService(service);
    requireNonNull(address, "address");
    checkArgument(address.hasPort(), "address %s has no port", address);
    checkState(!closed.get(), "the catalog at %s is closed", basePath);
    ServiceInstance<Void> instance;
    try {
      instance =
          ServiceInstance.<Void>builder()
              .name(service)
              .address(address.getHost())
              .port(address.getPort())
              .serviceType(ServiceType.DYNAMIC)
              .build();
      discovery.registerService(instance);
    } catch (Exception e) {
      throw new IllegalStateException(
          "could not register " + address + " as " + service + " under " + basePath, e);
    }
    logger.atInfo()
        .addKeyValue("service", service)
        .log("registered {} as {} under {}", address, service, basePath);
    AtomicBoolean left = new AtomicBoolean();
    return () -> {
      if (left.compareAndSet(false, true)) {
        try {
          discovery.unregisterService(instance);
        } catch (Exception e) {
          throw new IllegalStateException(
              "could not take " + address + " out of " + service + " under " + basePath, e);
        }
      }
    };
  }

  /**
   * Returns a lookup of {@code service} for one persistent connection: each call answers at once
   * from the catalog's cache, preferring an instance other than the one it answered last. Give
   * each persistent connection a lookup of its own. Starts the service's cache if this is the
   * first use of the service.
   *
   * @throws NullPointerException if {@code service} is null
   * @throws IllegalArgumentException if {@code service} is blank
   * @throws IllegalStateException if this catalog is closed
   */
  public AddressLookup<HostAndPort> lookup(String service) {
    Cache cache = cache(service);
    AtomicReference<@Nullable HostAndPort> last = new AtomicReference<>();
    return () -> {
      List<HostAndPort> live = addresses(cache);
      if (live.isEmpty()) {
        return Futures.immediateFailedFuture(
            new IllegalStateException(
                cache.loaded().getCount() > 0
                    ? "the catalog's cache of " + service + " under " + basePath
                        + " has not loaded yet (is ZooKeeper reachable?)"
                    : "no instance of " + service + " is registered under " + basePath));
      }
      HostAndPort previous = last.get();
      List<HostAndPort> others = new ArrayList<>(live);
      others.remove(previous);
      List<HostAndPort> from = others.isEmpty() ? live : others;
      HostAndPort picked = from.get(ThreadLocalRandom.current().nextInt(from.size()));
      last.set(picked);
      return immediate(picked);
    };
  }

  private static ListenableFuture<HostAndPort> immediate(HostAndPort address) {
    return Futures.immediateFuture(address);
  }

  /**
   * Follows {@code service} for {@code connection}: whenever the catalog changes and the
   * connection's current address is no longer listed (its replica deregistered before it stops),
   * calls {@link PersistentConnection#handOver()}, so the connection moves to a listed replica
   * without a failed call. Runs on the cache's thread. Close the returned subscription to stop.
   *
   * @throws NullPointerException if an argument is null
   * @throws IllegalArgumentException if {@code service} is blank
   * @throws IllegalStateException if this catalog is closed
   */
  public Subscription followMoves(String service, PersistentConnection<HostAndPort, ?> connection) {
    requireNonNull(connection, "connection");
    Cache cache = cache(service);
    ServiceCacheListener listener =
        new ServiceCacheListener() {
          @Override
          public void cacheChanged() {
            ConnectionState<HostAndPort, ?> state = connection.state();
            HostAndPort current = state.address();
            if (state.status() == ConnectionState.Status.CONNECTED
                && current != null
                && !addresses(cache).contains(current)) {
              logger.atInfo()
                  .addKeyValue("persistent-connection-to", connection.serverName())
                  .log("{} left {} under {}: handing over", current, service, basePath);
              ListenableFuture<?> unused = connection.handOver();
            }
          }

          @Override
          public void stateChanged(
              CuratorFramework client, org.apache.curator.framework.state.ConnectionState state) {}
        };
    cache.instances().addListener(listener);
    return () -> cache.instances().removeListener(listener);
  }

  /** The addresses the cache lists now. */
  private static List<HostAndPort> addresses(Cache cache) {
    List<HostAndPort> addresses = new ArrayList<>();
    for (ServiceInstance<Void> instance : cache.instances().getInstances()) {
      Integer port = instance.getPort();
      if (port != null) {
        addresses.add(HostAndPort.fromParts(instance.getAddress(), port));
      }
    }
    return addresses;
  }

  private Cache cache(String service) {
    checkService(service);
    checkState(!closed.get(), "the catalog at %s is closed", basePath);
    return caches.computeIfAbsent(
        service,
        name -> {
          ServiceCache<Void> instances = discovery.serviceCacheBuilder().name(name).build();
          try {
            return new Cache(instances, instances.startImmediate()); // loads in the background
          } catch (Exception e) {
            throw new IllegalStateException(
                "could not start the catalog's cache of " + name + " under " + basePath, e);
          }
        });
  }

  private static void checkService(String service) {
    requireNonNull(service, "service");
    checkArgument(!service.isBlank(), "service must not be blank");
  }

  /**
   * Closes the caches, stops following, and takes every registration still open out of the
   * catalog. Does not close the {@link CuratorFramework}. Idempotent.
   */
  @Override
  public void close() {
    if (!closed.compareAndSet(false, true)) {
      return;
    }
    try {
      discovery.close(); // closes its caches and unregisters its instances
    } catch (IOException e) {
      throw new UncheckedIOException("could not close the catalog at " + basePath, e);
    }
  }

  @Override
  public String toString() {
    return "ZooKeeperCatalog[" + basePath + "]";
  }
}
