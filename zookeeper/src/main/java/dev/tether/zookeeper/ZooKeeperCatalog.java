package dev.tether.zookeeper;

import static com.google.common.base.Preconditions.checkArgument;
import static com.google.common.util.concurrent.MoreExecutors.directExecutor;
import static java.util.Objects.requireNonNull;

import com.google.common.net.HostAndPort;
import com.google.common.util.concurrent.FutureCallback;
import com.google.common.util.concurrent.Futures;
import com.google.common.util.concurrent.ListenableFuture;
import com.google.common.util.concurrent.ThreadFactoryBuilder;
import com.google.common.util.concurrent.Uninterruptibles;
import dev.tether.AddressLookup;
import dev.tether.Closable;
import dev.tether.ConnectionState;
import dev.tether.PersistentConnection;
import dev.tether.Subscription;
import dev.tether.internal.DefaultScheduler;
import dev.tether.internal.NamedSubscription;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CancellationException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
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
 * cache starts in the background, on the catalog's threads (starting makes ZooKeeper round
 * trips); a lookup made before its first load is done waits for it at most 2 s, off the loop's
 * thread, and one made after its start failed starts it again. A lookup fails, and the loop
 * retries as usual, when the service has no instance, when the cache has not loaded within those
 * 2 s (ZooKeeper unreachable), or after {@link #close()}; the message names the service and the
 * base path.
 *
 * <p><b>Following moves.</b> {@link #followMoves} hands over once the current address has been
 * missing for 250 ms: when ZooKeeper comes back after a blip, Curator registers every instance
 * again by deleting and creating its node, which must not move every client. A replica that
 * leaves on purpose deregisters, then waits a second or so before it stops.
 *
 * <p><b>Which instance.</b> A persistent connection looks the address up again only after its
 * last answer failed or dropped (or for a standby or a handover), so each {@link AddressLookup}
 * prefers, at random, an instance other than the one it answered last, when there is one: a
 * replica killed with {@code kill -9} stays listed until its ZooKeeper session times out, and is
 * then tried at most once in a row. Only enabled instances count (Curator's {@code enabled} flag,
 * its way to drain a replica, kept by a serializer outside Curator's default compatible mode): a
 * disabled one is never answered, and {@link #followMoves} treats it as gone. An instance without
 * a usable address and port (written by another application) is skipped and logged once.
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
  /** How each follower of {@link #followMoves} ends: run by its subscription or by close(). */
  private final Set<Subscription> followers = ConcurrentHashMap.newKeySet();
  private final AtomicBoolean closed = new AtomicBoolean();
  /** How each registration still open leaves the catalog; {@link #close()} runs them. */
  private final Set<Runnable> open = ConcurrentHashMap.newKeySet();
  /** Start caches and run followers, so that no loop or Curator thread does. */
  private final ExecutorService threads =
      Executors.newCachedThreadPool(
          new ThreadFactoryBuilder().setNameFormat("tether-zookeeper-%d").setDaemon(true).build());
  /** How long a lookup made before its cache's first load waits for it: 2 s. */
  private static final long FIRST_LOAD_WAIT_MILLIS = 2_000;
  /** How long an address must stay missing before followMoves hands over: 250 ms. */
  private static final long CONFIRM_MILLIS = 250;

  /**
   * The watched cache of one service, started in the background on the catalog's threads (its
   * start makes ZooKeeper round trips) and started again by the next use after a start failed;
   * and the listeners of {@link #followMoves}, which outlive a failed start.
   */
  private final class Cache {
    final String service;
    final List<Runnable> changed = new CopyOnWriteArrayList<>();
    private @Nullable ListenableFuture<ServiceCache<Void>> started; // guarded by this
    /** The started Curator cache this made, until it is closed; guarded by this. */
    private @Nullable ServiceCache<Void> built;
    /** Whether the catalog closed this; guarded by this. */
    private boolean shut;
    /** The thread of a start waiting for the first load, which shut() interrupts; guarded by this. */
    private @Nullable Thread waiting;

    Cache(String service) {
      this.service = service;
    }

    /**
     * The started cache, now or once its first load is done. Starts it if it is not started, or
     * if its start threw (ZooKeeper unreachable); a start under way is never given up.
     */
    synchronized ListenableFuture<ServiceCache<Void>> started() {
      ListenableFuture<ServiceCache<Void>> now = started;
      if (now == null || (now.isDone() && !succeeded(now))) {
        try {
          now = Futures.submit(this::start, threads);
        } catch (RejectedExecutionException e) {
          now = Futures.immediateFailedFuture(closedException(service));
        }
        started = now;
      }
      return now;
    }

    /** The started cache, if its first load is done. */
    synchronized @Nullable ServiceCache<Void> ready() {
      ListenableFuture<ServiceCache<Void>> now = started;
      return now != null && now.isDone() && succeeded(now) ? Futures.getUnchecked(now) : null;
    }

    /**
     * Starts the cache and waits, on a thread of the catalog, for its first load; {@link #shut()}
     * interrupts it (it runs no user code), so that no start outlives the catalog.
     */
    private ServiceCache<Void> start() throws Exception {
      synchronized (this) {
        if (shut) {
          throw closedException(service);
        }
        waiting = Thread.currentThread();
      }
      try {
        return startAndLoad();
      } finally {
        synchronized (this) {
          waiting = null;
        }
        // An interrupt from shut() that came after the start ended is for the start alone: clear
        // it, so that it reaches neither the lookups that run here when the start's future
        // completes nor a later task of the pool thread.
        boolean unused = Thread.interrupted();
      }
    }

    private ServiceCache<Void> startAndLoad() throws Exception {
      ServiceCache<Void> cache = discovery.serviceCacheBuilder().name(service).build();
      CountDownLatch loaded;
      try {
        cache.addListener(
            new ServiceCacheListener() {
              @Override
              public void cacheChanged() {
                onOwnThread(() -> changed.forEach(Cache.this::runGuarded));
              }

              @Override
              public void stateChanged(
                  CuratorFramework client,
                  org.apache.curator.framework.state.ConnectionState state) {}
            });
        loaded = cache.startImmediate(); // ensures the path: may fail if ZooKeeper is away
      } catch (Exception e) {
        closeQuietly(cache);
        if (isShut()) {
          IllegalStateException closedMeanwhile = closedException(service);
          closedMeanwhile.initCause(e);
          throw closedMeanwhile;
        }
        throw new IllegalStateException(
            "the catalog's cache of " + service + " under " + basePath
                + " could not start (is ZooKeeper reachable?)",
            e);
      }
      // Kept where close() finds it at once: Curator's discovery does not close caches.
      boolean kept;
      synchronized (this) {
        kept = !shut;
        if (kept) {
          built = cache;
        }
      }
      if (!kept) {
        closeQuietly(cache);
        throw closedException(service);
      }
      try {
        loaded.await(); // as long as it takes; shut() interrupts it
      } catch (InterruptedException e) {
        discard(cache);
        IllegalStateException closedMeanwhile = closedException(service);
        closedMeanwhile.initCause(e);
        throw closedMeanwhile;
      }
      if (closed.get()) {
        discard(cache); // close() came during the load
        throw closedException(service);
      }
      return cache;
    }

    private synchronized boolean isShut() {
      return shut;
    }

    /**
     * Closes the Curator cache this made, if any, once; a start still under way is interrupted
     * (it may be waiting for ZooKeeper or for its first load) and closes its own.
     */
    void shut() {
      ServiceCache<Void> toClose;
      synchronized (this) {
        shut = true;
        toClose = built;
        built = null;
        Thread loading = waiting;
        if (loading != null) {
          loading.interrupt(); // only while it starts: see start()
        }
      }
      if (toClose != null) {
        closeQuietly(toClose);
      }
    }

    /** Closes {@code cache}, unless {@link #shut()} took it already. */
    private void discard(ServiceCache<Void> cache) {
      boolean mine;
      synchronized (this) {
        mine = built == cache;
        if (mine) {
          built = null;
        }
      }
      if (mine) {
        closeQuietly(cache);
      }
    }

    private void runGuarded(Runnable listener) {
      try {
        listener.run();
      } catch (RuntimeException e) {
        logger.warn("a follower of {} under {} failed", service, basePath, e);
      }
    }
  }

  private static boolean succeeded(ListenableFuture<?> done) {
    try {
      Futures.getDone(done);
      return true;
    } catch (ExecutionException | CancellationException e) {
      return false;
    }
  }

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
   * @throws IllegalArgumentException if {@code service} is blank or not a single ZooKeeper node
   *     name (it contains '/', say), or {@code address} has no port
   * @throws IllegalStateException if this catalog is closed, or ZooKeeper refused the
   *     registration (its cause says why)
   */
  public Registration register(String service, HostAndPort address) {
    checkService(service);
    requireNonNull(address, "address");
    checkArgument(address.hasPort(), "address %s has no port", address);
    if (closed.get()) {
      throw closedException(service);
    }
    ServiceInstance<Void> instance;
    try {
      instance =
          ServiceInstance.<Void>builder()
              .name(service)
              .address(address.getHost())
              .port(address.getPort())
              .serviceType(ServiceType.DYNAMIC)
              .build();
    } catch (Exception e) {
      throw new IllegalStateException("could not describe " + address + " as " + service, e);
    }
    try {
      discovery.registerService(instance);
    } catch (Exception e) {
      unregister(instance); // Curator would put it back on the next reconnection otherwise
      throw new IllegalStateException(
          "could not register " + address + " as " + service + " under " + basePath, e);
    }
    AtomicBoolean left = new AtomicBoolean();
    CountDownLatch gone = new CountDownLatch(1);
    Runnable leave =
        new Runnable() {
          @Override
          public void run() {
            if (left.compareAndSet(false, true)) {
              open.remove(this);
              try {
                unregister(instance);
              } finally {
                gone.countDown();
              }
            } else {
              // Another thread (a close() of the catalog) is taking it out: done when that is.
              Uninterruptibles.awaitUninterruptibly(gone);
            }
          }
        };
    open.add(leave);
    if (closed.get()) { // close() came meanwhile: it may have missed this one
      leave.run();
      throw closedException(service);
    }
    logger.atInfo()
        .addKeyValue("service", service)
        .log("registered {} as {} under {}", address, service, basePath);
    return new Registration() {
      @Override
      public void close() {
        leave.run();
      }

      @Override
      public String toString() {
        return "Registration[" + address + " as " + service + " under " + basePath
            + (left.get() ? ", left" : "") + "]";
      }
    };
  }

  /**
   * Takes {@code instance} out of the catalog; a failure is logged (Curator keeps retrying the
   * delete in the background, and the node is ephemeral anyway).
   */
  private void unregister(ServiceInstance<Void> instance) {
    try {
      discovery.unregisterService(instance);
    } catch (Exception e) {
      logger.warn(
          "could not take {}:{} out of {} under {} at once; ZooKeeper will drop it",
          instance.getAddress(),
          instance.getPort(),
          instance.getName(),
          basePath,
          e);
    }
  }

  /**
   * Returns a lookup of {@code service} for one persistent connection: each call answers at once
   * from the catalog's cache, preferring an instance other than the one it answered last. Give
   * each persistent connection a lookup of its own. Starts the service's cache if this is the
   * first use of the service.
   *
   * @throws NullPointerException if {@code service} is null
   * @throws IllegalArgumentException if {@code service} is blank or not a single ZooKeeper node
   *     name (it contains '/', say)
   * @throws IllegalStateException if this catalog is closed
   */
  public AddressLookup<HostAndPort> lookup(String service) {
    Cache cache = cache(service);
    AtomicReference<@Nullable HostAndPort> last = new AtomicReference<>();
    return () -> {
      if (closed.get()) {
        return Futures.immediateFailedFuture(closedException(service));
      }
      ServiceCache<Void> ready = cache.ready();
      if (ready == null) {
        // Its first load is under way, or its start failed and starts again: answer once it has
        // loaded, waiting at most 2 s; a lookup that gives up (or is cancelled) leaves it alone.
        ListenableFuture<HostAndPort> answer =
            Futures.transform(
                Futures.withTimeout(
                    Futures.nonCancellationPropagating(cache.started()),
                    FIRST_LOAD_WAIT_MILLIS,
                    TimeUnit.MILLISECONDS,
                    DefaultScheduler.get()),
                started -> pick(service, started, last),
                directExecutor());
        return Futures.catching(
            answer,
            TimeoutException.class,
            timeout -> {
              throw new IllegalStateException(
                  "the catalog's cache of " + service + " under " + basePath
                      + " has not loaded yet (is ZooKeeper reachable?)");
            },
            directExecutor());
      }
      try {
        return Futures.immediateFuture(pick(service, ready, last));
      } catch (IllegalStateException e) {
        return Futures.immediateFailedFuture(e);
      }
    };
  }

  /** One of the instances listed now, another than {@code last} if there is one. */
  private HostAndPort pick(
      String service, ServiceCache<Void> cache, AtomicReference<@Nullable HostAndPort> last) {
    List<HostAndPort> live = addresses(cache);
    if (live.isEmpty()) {
      throw new IllegalStateException(
          "no instance of " + service + " is registered under " + basePath);
    }
    HostAndPort previous = last.get();
    List<HostAndPort> others = new ArrayList<>(live);
    others.removeIf(address -> address.equals(previous));
    List<HostAndPort> from = others.isEmpty() ? live : others;
    HostAndPort picked = from.get(ThreadLocalRandom.current().nextInt(from.size()));
    last.set(picked);
    return picked;
  }

  /**
   * Follows {@code service} for {@code connection}: whenever the catalog changes, the connection
   * gets a new connection (it connected, or switched), or the cache has loaded, and the
   * connection's current address is not listed (its replica deregistered before it stops, maybe
   * while the connection to it was being made, or before this call), calls {@link
   * PersistentConnection#handOver()} after a short confirmation (250 ms: a ZooKeeper blip
   * re-registers every instance), so the connection moves to a listed replica without a failed
   * call. The handover runs on the catalog's thread. A handover that fails is tried again while
   * the address is still missing, 0.25 s later, then twice as late each time up to 30 s (one
   * retry at a time). Following ends when the returned subscription is closed, when the
   * connection is closed, or when this catalog is.
   *
   * @throws NullPointerException if an argument is null
   * @throws IllegalArgumentException if {@code service} is blank or not a single ZooKeeper node
   *     name (it contains '/', say)
   * @throws IllegalStateException if this catalog is closed
   */
  public Subscription followMoves(String service, PersistentConnection<HostAndPort, ?> connection) {
    requireNonNull(connection, "connection");
    Cache cache = cache(service);
    AtomicBoolean active = new AtomicBoolean(true);
    AtomicBoolean pending = new AtomicBoolean();
    AtomicInteger failedHandovers = new AtomicInteger();
    AtomicReference<@Nullable Runnable> retry = new AtomicReference<>();
    AtomicBoolean retrying = new AtomicBoolean(); // a retry is scheduled
    AtomicReference<@Nullable ScheduledFuture<?>> retryTimer = new AtomicReference<>();
    AtomicReference<@Nullable ScheduledFuture<?>> confirmTimer = new AtomicReference<>();
    Runnable check =
        () -> {
          pending.set(false);
          HostAndPort current = active.get() ? leftTheCatalog(cache, connection) : null;
          if (current == null) {
            failedHandovers.set(0); // nothing missing: a later departure starts from the shortest wait
          } else if (active.get()) { // not stopped while the catalog was read
            logger.atInfo()
                .addKeyValue("persistent-connection-to", connection.serverName())
                .log("{} left {} under {}: handing over", current, service, basePath);
            Futures.addCallback(
                connection.handOver(),
                new FutureCallback<Object>() {
                  @Override
                  public void onSuccess(@Nullable Object moved) {
                    failedHandovers.set(0);
                  }

                  @Override
                  public void onFailure(Throwable t) {
                    // Still on the departed replica: try again, later each time, while it is
                    // still missing (a quiet catalog would not ask again). One retry at a time:
                    // checks made while a handover was in flight share its future.
                    Runnable again = retry.get();
                    if (again == null || !active.get() || !retrying.compareAndSet(false, true)) {
                      return;
                    }
                    long delay = retryDelayMillis(failedHandovers.incrementAndGet());
                    retryTimer.set(
                        DefaultScheduler.get()
                            .schedule(
                                () -> {
                                  retrying.set(false);
                                  again.run();
                                },
                                delay,
                                TimeUnit.MILLISECONDS));
                    if (!active.get()) {
                      cancelQuietly(retryTimer.getAndSet(null)); // stopped meanwhile
                    }
                  }
                },
                directExecutor());
          }
        };
    // Confirmed after a short wait: when ZooKeeper comes back after a blip, Curator registers
    // every instance again by deleting and creating its node, which must not move every client.
    Runnable listener =
        () -> {
          if (active.get()
              && leftTheCatalog(cache, connection) != null
              && pending.compareAndSet(false, true)) { // one check at a time
            confirmTimer.set(
                DefaultScheduler.get()
                    .schedule(() -> onOwnThread(check), CONFIRM_MILLIS, TimeUnit.MILLISECONDS));
            if (!active.get()) {
              cancelQuietly(confirmTimer.getAndSet(null)); // stopped meanwhile
            }
          }
        };
    retry.set(listener);
    cache.changed.add(listener);
    Runnable stop =
        () -> {
          active.set(false); // a check already scheduled does nothing
          cache.changed.remove(listener);
          // So that the scheduler does not hold the connection until a retry or a check was due.
          cancelQuietly(retryTimer.getAndSet(null));
          cancelQuietly(confirmTimer.getAndSet(null));
        };
    // Also when the connection reaches an address (connected, or switched to another one): it
    // may have left while the connection was being made, or before this call; and once the
    // cache has loaded. A closed connection is followed no more.
    AtomicReference<@Nullable Subscription> self = new AtomicReference<>();
    AtomicBoolean connectionClosed = new AtomicBoolean();
    // A closed connection is followed no more, and forgotten.
    Runnable ended =
        () -> {
          connectionClosed.set(true);
          Subscription following = self.get();
          if (following != null) {
            following.close();
          } else {
            stop.run(); // closed before this call returned: the end of it forgets it
          }
        };
    Subscription states = onEachNewConnection(connection, listener, ended);
    cache.started().addListener(listener, directExecutor());
    Subscription following =
        NamedSubscription.of(
            "moves of " + service + " followed by " + connection,
            () -> {
              stop.run();
              states.close();
              followers.remove(self.get());
            });
    followers.add(following); // first: a close of the connection from now on removes it
    self.set(following);
    if (closed.get() || connectionClosed.get()) {
      following.close(); // close() came meanwhile: it may have missed this one
    }
    return following;
  }

  private static void cancelQuietly(@Nullable ScheduledFuture<?> timer) {
    if (timer != null) {
      timer.cancel(false);
    }
  }

  /** The wait before following tries a failed handover again: 0.25 s, doubling, at most 30 s. */
  static long retryDelayMillis(int failures) {
    return Math.min(30_000L, CONFIRM_MILLIS << Math.min(failures - 1, 7));
  }

  /**
   * Runs {@code check} each time {@code connection} is CONNECTED with another connection than the
   * last time (at once if it is now), and {@code stop} when it is CLOSED.
   */
  private static <C extends Closable> Subscription onEachNewConnection(
      PersistentConnection<HostAndPort, C> connection, Runnable check, Runnable stop) {
    AtomicReference<@Nullable C> seen = new AtomicReference<>();
    return connection.subscribeState(
        state -> {
          if (state.status() == ConnectionState.Status.CLOSED) {
            stop.run();
            return;
          }
          C now = state.connection();
          if (state.status() == ConnectionState.Status.CONNECTED
              && now != null
              && seen.getAndSet(now) != now) {
            check.run();
          }
        });
  }

  /** Runs {@code task} on the catalog's threads, unless the catalog is closed. */
  private void onOwnThread(Runnable task) {
    if (closed.get()) {
      return;
    }
    try {
      threads.execute(task);
    } catch (RejectedExecutionException e) {
      // closed meanwhile: nothing to do
    }
  }

  /** The connection's current address, if it is connected there and the address is not listed. */
  private static @Nullable HostAndPort leftTheCatalog(
      Cache cache, PersistentConnection<HostAndPort, ?> connection) {
    ServiceCache<Void> ready = cache.ready();
    ConnectionState<HostAndPort, ?> state = connection.state();
    HostAndPort current = state.address();
    return ready != null
            && state.status() == ConnectionState.Status.CONNECTED
            && current != null
            && !addresses(ready).contains(current)
        ? current
        : null;
  }

  /**
   * The addresses the cache lists now, of instances that are enabled (Curator's way to drain a
   * replica, which its own service providers honour too). An instance another writer put there
   * without a usable address and port is skipped, and logged once: it must not keep the others
   * from being found.
   */
  private static List<HostAndPort> addresses(ServiceCache<Void> cache) {
    List<HostAndPort> addresses = new ArrayList<>();
    for (ServiceInstance<Void> instance : cache.getInstances()) {
      if (!instance.isEnabled()) {
        continue;
      }
      Integer port = instance.getPort();
      String address = instance.getAddress();
      if (port == null || address == null) {
        unusable(instance, null);
        continue;
      }
      try {
        addresses.add(HostAndPort.fromParts(address, port));
      } catch (IllegalArgumentException e) { // a port in the address, or one out of range
        unusable(instance, e);
      }
    }
    return addresses;
  }

  /** Instances already logged as unusable, by id; bounded, so that a flood cannot grow it. */
  private static final Set<String> UNUSABLE_LOGGED = ConcurrentHashMap.newKeySet();

  private static void unusable(ServiceInstance<Void> instance, @Nullable Exception why) {
    String id = instance.getName() + "/" + instance.getId();
    if (UNUSABLE_LOGGED.size() < 1_000 && UNUSABLE_LOGGED.add(id)) {
      logger.warn(
          "catalog instance {} of service {} has no usable address ({}:{}); skipped",
          instance.getId(),
          instance.getName(),
          instance.getAddress(),
          instance.getPort(),
          why);
    }
  }

  private Cache cache(String service) {
    checkService(service);
    if (closed.get()) {
      throw closedException(service);
    }
    Cache cache = caches.computeIfAbsent(service, Cache::new);
    ListenableFuture<?> unused = cache.started(); // in the background
    return cache;
  }

  /** A service name is one ZooKeeper node name under the base path: not blank, no '/'. */
  private static void checkService(String service) {
    requireNonNull(service, "service");
    checkArgument(!service.isBlank(), "service must not be blank");
    checkArgument(
        service.indexOf('/') < 0, "service must be a single node name, without '/': %s", service);
    try {
      PathUtils.validatePath("/" + service);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(
          "service is not a valid ZooKeeper node name: " + service + " (" + e.getMessage() + ")", e);
    }
  }

  /**
   * Closes the caches, stops following, and takes every registration still open out of the
   * catalog. Does not close the {@link CuratorFramework}. Idempotent.
   *
   * <p>A cache still starting is interrupted and ends at once. A handover that a follower started
   * is not: it is a step of its persistent connection (user code among it), which goes on.
   */
  @Override
  public void close() {
    if (!closed.compareAndSet(false, true)) {
      return;
    }
    // Not shutdownNow(): a follower's task may be running a step of its persistent connection
    // (a handover's lookup or connect), which must not be interrupted. The starts are, below.
    threads.shutdown();
    // Followers and caches first: taking a registration out may wait for ZooKeeper, for as long
    // as Curator's retry policy lets it, and a start interrupted only after that would not end
    // "at once".
    for (Subscription follower : followers) {
      follower.close(); // leaves the persistent connection it followed, which may live on
    }
    for (Cache cache : caches.values()) {
      cache.shut();
    }
    // Each one out of Curator's own list first: its reconnection listener, until discovery.close()
    // removes it, would otherwise put back an instance that ZooKeeper's return found gone. (A
    // re-registration that took the instance from that list just before can still win: the
    // window is narrowed, not closed; the node is ephemeral in any case.)
    for (Runnable leave : open) {
      leave.run();
    }
    try {
      discovery.close(); // unregisters what is left (nothing, unless a register() raced this)
    } catch (IOException | RuntimeException e) {
      logger.warn("closing the catalog at {} did not finish cleanly", basePath, e);
    }
  }

  private void closeQuietly(ServiceCache<Void> cache) {
    try {
      cache.close();
    } catch (IOException | RuntimeException e) {
      logger.warn("closing a cache of the catalog at {} failed", basePath, e);
    }
  }

  private IllegalStateException closedException(String service) {
    return new IllegalStateException(
        "the catalog at " + basePath + " is closed (" + service + ")");
  }

  @Override
  public String toString() {
    return "ZooKeeperCatalog[" + basePath + "]";
  }
}
