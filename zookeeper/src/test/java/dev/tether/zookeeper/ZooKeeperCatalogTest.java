package dev.tether.zookeeper;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.common.net.HostAndPort;
import com.google.common.util.concurrent.Futures;
import com.google.common.util.concurrent.SettableFuture;
import com.google.common.util.concurrent.ListenableFuture;
import dev.tether.AddressLookup;
import dev.tether.ConnectionState;
import dev.tether.PersistentConnection;
import dev.tether.Subscription;
import dev.tether.testing.IdleConnection;
import dev.tether.testsupport.LoopbackZooKeeper;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.retry.RetryOneTime;
import org.apache.curator.test.TestingServer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The catalog against a real ZooKeeper: Curator's TestingServer, in this JVM, on loopback. */
class ZooKeeperCatalogTest {
  private static final HostAndPort A = HostAndPort.fromParts("127.0.0.1", 50051);
  private static final HostAndPort B = HostAndPort.fromParts("127.0.0.1", 50052);

  private TestingServer zookeeper;
  private final List<AutoCloseable> toClose = new ArrayList<>();

  @BeforeEach
  void startZooKeeper() throws Exception {
    zookeeper = LoopbackZooKeeper.server();
  }

  @AfterEach
  void stopAll() throws Exception {
    for (int i = toClose.size() - 1; i >= 0; i--) {
      toClose.get(i).close();
    }
    zookeeper.close();
  }

  private CuratorFramework client() throws InterruptedException {
    CuratorFramework client =
        CuratorFrameworkFactory.builder()
            .connectString(zookeeper.getConnectString())
            .sessionTimeoutMs(10_000)
            .connectionTimeoutMs(5_000)
            .retryPolicy(new RetryOneTime(100))
            .build();
    client.start();
    toClose.add(client);
    assertTrue(client.blockUntilConnected(10, TimeUnit.SECONDS), "connected to ZooKeeper");
    return client;
  }

  private ZooKeeperCatalog catalog(CuratorFramework client) {
    ZooKeeperCatalog catalog = ZooKeeperCatalog.create(client, "/services");
    toClose.add(catalog);
    return catalog;
  }


  /**
   * The lookup's answer, waited for up to 5 s: a new cache's first load may take the catalog's
   * 2 s first-load wait on a busy machine (a lookup answered from a loaded cache is immediate).
   */
  private static String answer(AddressLookup<HostAndPort> lookup) {
    return Answers.answer(lookup, 5);
  }


  @Test
  void aRegisteredReplicaIsLookedUp_andLeavesWhenItsRegistrationCloses() throws Exception {
    ZooKeeperCatalog replica = catalog(client());
    AddressLookup<HostAndPort> lookup = catalog(client()).lookup("orders");

    Registration registration = replica.register("orders", A);
    Answers.eventually("A listed", () -> answer(lookup).equals(A.toString()));

    registration.close();
    Answers.eventually("A gone", () -> answer(lookup).startsWith("failed"));
    assertEquals("failed: no instance of orders is registered under /services", answer(lookup));
    registration.close(); // idempotent
  }

  @Test
  void closingTheCatalog_takesItsOpenRegistrationsOut_andTheirCloseThenDoesNothing() throws Exception {
    CuratorFramework replicaClient = client();
    ZooKeeperCatalog replica = ZooKeeperCatalog.create(replicaClient, "/services");
    Registration a = replica.register("orders", A);
    Registration b = replica.register("orders", B);
    b.close(); // left on its own before
    AddressLookup<HostAndPort> lookup = catalog(client()).lookup("orders");
    Answers.eventually("A listed", () -> answer(lookup).equals(A.toString()));

    replica.close();
    Answers.eventually("A gone", () -> answer(lookup).startsWith("failed"));
    assertEquals("failed: no instance of orders is registered under /services", answer(lookup));
    assertEquals("Registration[" + A + " as orders under /services, left]", a.toString());
    replicaClient.close(); // as its owner does after the catalog
    a.close(); // nothing left to do: no round trip on a closed client
    b.close();
  }

  @Test
  void eachLookupPrefersAnotherInstanceThanItsLastAnswer() throws Exception {
    ZooKeeperCatalog replicas = catalog(client());
    replicas.register("orders", A);
    replicas.register("orders", B);
    AddressLookup<HostAndPort> lookup = catalog(client()).lookup("orders");
    Answers.eventually("both listed", () -> !answer(lookup).equals(answer(lookup)));

    String previous = answer(lookup);
    for (int i = 0; i < 20; i++) {
      String next = answer(lookup);
      assertNotEquals(previous, next, "a replica killed with kill -9 is tried at most once in a row");
      previous = next;
    }
  }

  @Test
  void aLostSessionLeavesTheCatalog_andItsRenewalPutsTheReplicaBack() throws Exception {
    CuratorFramework replicaClient = client();
    ZooKeeperCatalog replica = catalog(replicaClient);
    replica.register("orders", A);
    AddressLookup<HostAndPort> lookup = catalog(client()).lookup("orders");
    Answers.eventually("A listed", () -> answer(lookup).equals(A.toString()));

    long oldSession = replicaClient.getZookeeperClient().getZooKeeper().getSessionId();
    replicaClient.getZookeeperClient().getZooKeeper().getTestable().injectSessionExpiration();

    // The ephemeral node belonged to the lost session; the renewed one registers A again.
    CuratorFramework observer = client();
    Answers.eventually(
        "A registered by the new session",
        () -> {
          try {
            long owner = ownerOfTheOnlyInstance(observer);
            return owner != 0
                && owner != oldSession
                && owner == replicaClient.getZookeeperClient().getZooKeeper().getSessionId();
          } catch (Exception e) {
            return false;
          }
        });
    Answers.eventually("A listed again", () -> answer(lookup).equals(A.toString()));
  }

  private static long ownerOfTheOnlyInstance(CuratorFramework client) throws Exception {
    List<String> ids = client.getChildren().forPath("/services/orders");
    if (ids.size() != 1) {
      return 0;
    }
    org.apache.zookeeper.data.Stat stat = client.checkExists().forPath("/services/orders/" + ids.get(0));
    return stat == null ? 0 : stat.getEphemeralOwner();
  }

  @Test
  void whileZooKeeperIsAway_lookupsAnswerWhatTheCacheKnew_andAfterItsReturnTheyFollowItAgain()
      throws Exception {
    ZooKeeperCatalog replica = catalog(client());
    replica.register("orders", A);
    AddressLookup<HostAndPort> lookup = catalog(client()).lookup("orders");
    Answers.eventually("A listed", () -> answer(lookup).equals(A.toString()));

    zookeeper.stop();
    ListenableFuture<HostAndPort> fromTheCache = lookup.lookup();
    assertTrue(fromTheCache.isDone(), "from the cache, at once");
    assertEquals(A, fromTheCache.get());

    zookeeper.restart();
    replica.register("orders", B);
    // Answers alternate between A and B once both are listed: two in a row include B.
    Answers.eventually("B listed", () -> List.of(answer(lookup), answer(lookup)).contains(B.toString()));
  }

  @Test
  void aLookupWithNoInstance_failsNamingServiceAndPath() throws Exception {
    AddressLookup<HostAndPort> lookup = catalog(client()).lookup("payments");
    assertEquals("failed: no instance of payments is registered under /services", answer(lookup));
  }

  @Test
  void aLookupMadeBeforeTheFirstLoad_answersOnceItIsDone_offTheCallersThread() throws Exception {
    catalog(client()).register("orders", A);
    ZooKeeperCatalog clients = catalog(client());
    AddressLookup<HostAndPort> lookup = clients.lookup("orders");
    ListenableFuture<HostAndPort> first = lookup.lookup(); // at once: the load is under way
    assertEquals(A, first.get(5, TimeUnit.SECONDS));
  }

  @Test
  void aLookupWhoseCacheCannotLoad_failsSayingSo() throws Exception {
    CuratorFramework client = client();
    ZooKeeperCatalog clients = catalog(client);
    zookeeper.stop();
    long before = System.nanoTime();
    AddressLookup<HostAndPort> lookup = clients.lookup("orders");
    // A lookup that waited for ZooKeeper would wait out the client's 5 s connection timeout.
    assertTrue(System.nanoTime() - before < TimeUnit.SECONDS.toNanos(2), "never blocks");
    String answer = Answers.answer(lookup, 10);
    assertTrue(
        // Not loaded within the lookup's wait, or its start failed already: either says so.
        answer.startsWith("failed: the catalog's cache of orders under /services ")
            && answer.endsWith("(is ZooKeeper reachable?)"),
        answer);

    zookeeper.restart(); // the next lookup starts the cache again
    catalog(client()).register("orders", A);
    Answers.eventually("A listed", () -> Answers.answer(lookup, 5).equals(A.toString()));
  }

  @Test
  void closingTheCatalog_endsACacheStartThatWaitsForZooKeeper() throws Exception {
    ZooKeeperCatalog clients = catalog(client());
    zookeeper.stop();
    AddressLookup<HostAndPort> unused = clients.lookup("orders"); // starts the cache, which waits
    Answers.eventually("a start waiting", () -> !startingThreads().isEmpty());

    clients.close();

    for (Thread starting : startingThreads()) {
      // Interrupted, it ends at once; left to Curator, only after its 5 s connection timeout.
      starting.join(3_000);
      assertTrue(!starting.isAlive(), () -> "still starting: " + starting);
    }
  }

  /** The catalog threads now starting a cache. */
  private static List<Thread> startingThreads() {
    List<Thread> starting = new ArrayList<>();
    Thread.getAllStackTraces()
        .forEach(
            (thread, stack) -> {
              if (thread.getName().startsWith("tether-zookeeper-")
                  && java.util.Arrays.stream(stack)
                      .anyMatch(frame -> frame.getMethodName().equals("startAndLoad"))) {
                starting.add(thread);
              }
            });
    return starting;
  }

  @Test
  void instancesThatAreDisabledOrHaveNoUsableAddress_areNeverAnswered_andHideNoOther() throws Exception {
    // Another Curator application writes under the same base path: it drains a replica by
    // disabling it, and one of its instances has an address that is no host.
    CuratorFramework other = client();
    org.apache.curator.x.discovery.ServiceDiscovery<Void> discovery =
        org.apache.curator.x.discovery.ServiceDiscoveryBuilder.builder(Void.class)
            .client(other)
            .basePath("/services")
            // Not Curator's default, compatible mode, which leaves the enabled flag out.
            .serializer(
                new org.apache.curator.x.discovery.details.JsonInstanceSerializer<>(
                    Void.class, false))
            .build();
    discovery.start();
    toClose.add(discovery);
    discovery.registerService(
        org.apache.curator.x.discovery.ServiceInstance.<Void>builder()
            .name("orders")
            .address(B.getHost())
            .port(B.getPort())
            .enabled(false)
            .build());
    discovery.registerService(
        org.apache.curator.x.discovery.ServiceInstance.<Void>builder()
            .name("orders")
            .address("10.0.0.9:80")
            .port(50053)
            .build());
    AddressLookup<HostAndPort> lookup = catalog(client()).lookup("orders");
    String answer = answer(lookup);
    for (int i = 0; i < 2_000 && answer.startsWith("failed: the catalog's cache"); i++) {
      TimeUnit.MILLISECONDS.sleep(10); // until the first load, bounded
      answer = answer(lookup);
    }
    assertEquals("failed: no instance of orders is registered under /services", answer);

    catalog(client()).register("orders", A);
    Answers.eventually("A listed", () -> answer(lookup).equals(A.toString()));
    for (int i = 0; i < 20; i++) {
      assertEquals(A.toString(), answer(lookup), "only A is usable");
    }
  }

  @Test
  @SuppressWarnings("NullAway") // the nulls are the point
  void badInput_failsAtOnce_namingIt() throws Exception {
    CuratorFramework client = client();
    assertEquals("client", assertThrows(NullPointerException.class, () -> ZooKeeperCatalog.create(null, "/s")).getMessage());
    assertEquals("basePath", assertThrows(NullPointerException.class, () -> ZooKeeperCatalog.create(client, null)).getMessage());
    assertTrue(
        assertThrows(IllegalArgumentException.class, () -> ZooKeeperCatalog.create(client, "services"))
            .getMessage()
            .contains("basePath"));
    ZooKeeperCatalog catalog = catalog(client);
    assertEquals("service", assertThrows(NullPointerException.class, () -> catalog.lookup(null)).getMessage());
    assertTrue(
        assertThrows(IllegalArgumentException.class, () -> catalog.register(" ", A))
            .getMessage()
            .contains("service"));
    assertTrue(
        assertThrows(
                IllegalArgumentException.class,
                () -> catalog.register("orders", HostAndPort.fromHost("10.0.0.7")))
            .getMessage()
            .contains("no port"));
    for (String notOneNode : new String[] {"orders/v1", ".", ".."}) {
      assertTrue(
          assertThrows(IllegalArgumentException.class, () -> catalog.lookup(notOneNode))
              .getMessage()
              .contains("service"),
          notOneNode);
    }
    AddressLookup<HostAndPort> before = catalog.lookup("orders");
    catalog.close();
    assertEquals(
        "the catalog at /services is closed (orders)",
        assertThrows(IllegalStateException.class, () -> catalog.lookup("orders")).getMessage());
    assertEquals("failed: the catalog at /services is closed (orders)", answer(before));
  }

  @Test
  void followMoves_handsOverWhenTheCurrentReplicaLeaves() throws Exception {
    ZooKeeperCatalog replicas = catalog(client());
    Registration a = replicas.register("orders", A);
    ZooKeeperCatalog clients = catalog(client());
    AddressLookup<HostAndPort> lookup = clients.lookup("orders");
    Answers.eventually("A listed", () -> answer(lookup).equals(A.toString()));
    PersistentConnection<HostAndPort, IdleConnection> orders = connectedOrders(lookup);
    assertEquals(A, orders.state().address());
    Subscription following = clients.followMoves("orders", orders);
    toClose.add(following);
    CompletableFuture<HostAndPort> movedTo = new CompletableFuture<>();
    orders.subscribeState(
        (ConnectionState<HostAndPort, IdleConnection> state) -> {
          if (state.connection() != null && !A.equals(state.address())) {
            movedTo.complete(state.address());
          }
        });

    replicas.register("orders", B);
    a.close(); // A deregisters before it stops

    assertEquals(B, movedTo.get(10, TimeUnit.SECONDS));
  }

  /** A persistent connection "orders" on {@code lookup}, closed after the test. */
  private PersistentConnection<HostAndPort, IdleConnection> orders(
      AddressLookup<HostAndPort> lookup, dev.tether.Connector<HostAndPort, IdleConnection> connector) {
    PersistentConnection<HostAndPort, IdleConnection> orders =
        PersistentConnection.<HostAndPort, IdleConnection>builder("orders")
            .addressLookup(lookup)
            .connector(connector)
            .retryDelay(Duration.ofMillis(100))
            .build();
    toClose.add(() -> orders.close().get(10, TimeUnit.SECONDS));
    return orders;
  }

  /** {@link #orders} whose connections never drop, once it has connected. */
  private PersistentConnection<HostAndPort, IdleConnection> connectedOrders(
      AddressLookup<HostAndPort> lookup) throws Exception {
    PersistentConnection<HostAndPort, IdleConnection> orders =
        orders(lookup, address -> Futures.immediateFuture(new IdleConnection()));
    orders.connected().get(10, TimeUnit.SECONDS);
    return orders;
  }

  /** A replica A registered for "orders", and a second catalog whose lookup already lists it. */
  private record OrdersAtA(
      ZooKeeperCatalog replicas, Registration a, ZooKeeperCatalog clients, AddressLookup<HostAndPort> lookup) {
    /** B registers, A leaves; returns once the clients' catalog lists B alone. */
    void moveToB() throws InterruptedException {
      replicas.register("orders", B);
      a.close();
      AddressLookup<HostAndPort> observer = clients.lookup("orders");
      Answers.eventually("A gone", () -> onlyListed(B, observer));
    }
  }

  private OrdersAtA ordersAtA() throws InterruptedException {
    ZooKeeperCatalog replicas = catalog(client());
    Registration a = replicas.register("orders", A);
    ZooKeeperCatalog clients = catalog(client());
    AddressLookup<HostAndPort> lookup = clients.lookup("orders");
    Answers.eventually("A listed", () -> answer(clients.lookup("orders")).equals(A.toString()));
    return new OrdersAtA(replicas, a, clients, lookup);
  }

  /** Whether two answers in a row are {@code address}: a lookup alternates while two are listed. */
  private static boolean onlyListed(HostAndPort address, AddressLookup<HostAndPort> lookup) {
    for (int i = 0; i < 2; i++) {
      if (!answer(lookup).equals(address.toString())) {
        return false;
      }
    }
    return true;
  }

  /** Completes with the first address other than {@code from} that {@code connection} connects to. */
  private static CompletableFuture<HostAndPort> movedFrom(
      HostAndPort from, PersistentConnection<HostAndPort, IdleConnection> connection) {
    CompletableFuture<HostAndPort> movedTo = new CompletableFuture<>();
    connection.subscribeState(
        (ConnectionState<HostAndPort, IdleConnection> state) -> {
          if (state.connection() != null && !from.equals(state.address())) {
            movedTo.complete(state.address());
          }
        });
    return movedTo;
  }

  @Test
  void followMoves_handsOverAReplicaThatLeftWhileTheConnectionToItWasBeingMade() throws Exception {
    OrdersAtA at = ordersAtA();
    ZooKeeperCatalog clients = at.clients();
    AddressLookup<HostAndPort> lookup = at.lookup();
    SettableFuture<IdleConnection> connectingToA = SettableFuture.create();
    PersistentConnection<HostAndPort, IdleConnection> orders =
        orders(
            lookup,
            address -> A.equals(address) ? connectingToA : Futures.immediateFuture(new IdleConnection()));
    toClose.add(clients.followMoves("orders", orders));
    CompletableFuture<HostAndPort> movedTo = movedFrom(A, orders);
    Answers.eventually("connecting to A", () -> orders.state().address() != null);

    at.moveToB(); // A deregisters while the connection to it is being made
    connectingToA.set(new IdleConnection()); // connected to A, which the catalog no longer lists

    assertEquals(B, movedTo.get(10, TimeUnit.SECONDS));
  }

  @Test
  void followMoves_triesAFailedHandoverAgain_whileTheReplicaIsStillMissing() throws Exception {
    OrdersAtA at = ordersAtA();
    ZooKeeperCatalog clients = at.clients();
    java.util.concurrent.atomic.AtomicInteger connectsToB = new java.util.concurrent.atomic.AtomicInteger();
    PersistentConnection<HostAndPort, IdleConnection> orders =
        orders(
            at.lookup(),
            address ->
                B.equals(address) && connectsToB.incrementAndGet() == 1
                    ? Futures.immediateFailedFuture(new IOException("B is not up yet"))
                    : Futures.immediateFuture(new IdleConnection()));
    orders.connected().get(10, TimeUnit.SECONDS);
    assertEquals(A, orders.state().address());
    toClose.add(clients.followMoves("orders", orders));
    CompletableFuture<HostAndPort> movedTo = movedFrom(A, orders);

    at.moveToB(); // the first handover to B fails; the catalog changes no more

    assertEquals(B, movedTo.get(10, TimeUnit.SECONDS));
    assertEquals(2, connectsToB.get());
  }

  @Test
  void followingEnds_whenTheConnectionCloses() throws Exception {
    OrdersAtA at = ordersAtA();
    PersistentConnection<HostAndPort, IdleConnection> orders = connectedOrders(at.lookup());
    Subscription following = at.clients().followMoves("orders", orders);

    orders.close().get(10, TimeUnit.SECONDS);

    // The CLOSED state reaches the follower in a step of the connection, maybe on another thread.
    Answers.eventually("following ended", () -> following.toString().endsWith(", closed]"));
    Subscription afterClose = at.clients().followMoves("orders", orders);
    Answers.eventually("following a closed connection ended", () -> afterClose.toString().endsWith(", closed]"));
  }

  @Test
  void closingTheCatalog_endsItsFollowers_butNotTheConnection() throws Exception {
    OrdersAtA at = ordersAtA();
    ZooKeeperCatalog clients = at.clients();
    PersistentConnection<HostAndPort, IdleConnection> orders = connectedOrders(at.lookup());
    Subscription following = clients.followMoves("orders", orders);

    clients.close();
    assertTrue(following.toString().endsWith(", closed]"), following.toString());
    assertEquals(ConnectionState.Status.CONNECTED, orders.state().status());
  }

  @Test
  void closingTheCatalog_doesNotInterruptAHandoverItsFollowerStarted() throws Exception {
    OrdersAtA at = ordersAtA();
    ZooKeeperCatalog clients = at.clients();
    CompletableFuture<String> connectingToB = new CompletableFuture<>();
    java.util.concurrent.CountDownLatch catalogClosed = new java.util.concurrent.CountDownLatch(1);
    CompletableFuture<Boolean> interrupted = new CompletableFuture<>();
    PersistentConnection<HostAndPort, IdleConnection> orders =
        orders(
            at.lookup(),
            address -> {
              if (B.equals(address)) { // a blocking connector, on the thread that asked
                connectingToB.complete(Thread.currentThread().getName());
                try {
                  boolean unused = catalogClosed.await(10, TimeUnit.SECONDS);
                  interrupted.complete(Thread.currentThread().isInterrupted());
                } catch (InterruptedException e) {
                  Thread.currentThread().interrupt();
                  interrupted.complete(true);
                }
              }
              return Futures.immediateFuture(new IdleConnection());
            });
    orders.connected().get(10, TimeUnit.SECONDS);
    toClose.add(clients.followMoves("orders", orders));
    CompletableFuture<HostAndPort> movedTo = movedFrom(A, orders);

    at.moveToB();
    String thread = connectingToB.get(10, TimeUnit.SECONDS);
    clients.close();
    catalogClosed.countDown();

    assertTrue(thread.startsWith("tether-zookeeper-"), thread); // the follower's own thread
    assertEquals(false, interrupted.get(10, TimeUnit.SECONDS));
    assertEquals(B, movedTo.get(10, TimeUnit.SECONDS));
  }

  @Test
  void followMoves_handsOverAReplicaThatLeftBeforeFollowingStarted() throws Exception {
    OrdersAtA at = ordersAtA();
    ZooKeeperCatalog clients = at.clients();
    PersistentConnection<HostAndPort, IdleConnection> orders = connectedOrders(at.lookup());
    assertEquals(A, orders.state().address());
    CompletableFuture<HostAndPort> movedTo = movedFrom(A, orders);
    at.moveToB();

    toClose.add(clients.followMoves("orders", orders)); // after A left: nothing changes any more

    assertEquals(B, movedTo.get(10, TimeUnit.SECONDS));
  }

  @Test
  void aKilledReplicaStillListed_isTriedOnce_thenAvoided_andZooKeeperAwayKeepsTheConnection()
      throws Exception {
    ZooKeeperCatalog replicas = catalog(client());
    replicas.register("orders", A); // killed with kill -9: still listed, refuses connections
    replicas.register("orders", B);
    ZooKeeperCatalog clients = catalog(client());
    AddressLookup<HostAndPort> lookup = clients.lookup("orders");
    Answers.eventually("both listed", () -> !answer(lookup).equals(answer(lookup)));
    List<HostAndPort> tried = new java.util.concurrent.CopyOnWriteArrayList<>();
    PersistentConnection<HostAndPort, IdleConnection> orders =
        PersistentConnection.<HostAndPort, IdleConnection>builder("orders")
            .addressLookup(lookup)
            .connector(
                address -> {
                  tried.add(address);
                  return address.equals(A)
                      ? Futures.immediateFailedFuture(new java.net.ConnectException("refused"))
                      : Futures.immediateFuture(new IdleConnection());
                })
            .retryDelay(Duration.ofMillis(50))
            .build();
    toClose.add(() -> orders.close().get(10, TimeUnit.SECONDS));
    IdleConnection onB = orders.connected().get(10, TimeUnit.SECONDS);
    assertEquals(B, orders.state().address());
    assertTrue(tried.size() <= 2 && tried.get(tried.size() - 1).equals(B), tried.toString());

    zookeeper.stop(); // the catalog goes away: the current connection stays
    assertTrue(orders.currentConnection() == onB);
    assertEquals(ConnectionState.Status.CONNECTED, orders.state().status());
    onB.drop(); // and a drop reconnects from what the cache knew
    IdleConnection again = orders.connected().get(10, TimeUnit.SECONDS);
    assertTrue(again != onB);
    for (int i = 1; i < tried.size(); i++) {
      assertTrue(
          !(tried.get(i).equals(A) && tried.get(i - 1).equals(A)),
          "the killed replica twice in a row: " + tried);
    }
    zookeeper.restart();
    replicas.register("orders", HostAndPort.fromParts("127.0.0.1", 50053));
    Answers.eventually(
        "a new replica listed after ZooKeeper's return",
        () ->
            List.of(answer(lookup), answer(lookup), answer(lookup), answer(lookup))
                .contains("127.0.0.1:50053"));
  }
}
