package dev.tether.micrometer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.common.util.concurrent.Futures;
import com.google.common.util.concurrent.ListenableFuture;
import com.google.common.util.concurrent.SettableFuture;
import dev.tether.ConnectionState;
import dev.tether.Event;
import dev.tether.PersistentConnection;
import dev.tether.Subscription;
import dev.tether.testing.IdleConnection;
import dev.tether.testing.VirtualTimeScheduler;
import io.micrometer.core.instrument.MockClock;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.simple.SimpleConfig;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.lang.ref.WeakReference;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;

/**
 * The meters after scripted runs on virtual time: the loop's timers on a {@link
 * VirtualTimeScheduler}, the registry's clock a {@link MockClock} moved with it.
 */
class TetherMetricsTest {
  private final VirtualTimeScheduler scheduler = VirtualTimeScheduler.create();
  private final MockClock clock = new MockClock();
  private final SimpleMeterRegistry registry = new SimpleMeterRegistry(SimpleConfig.DEFAULT, clock);
  /** What each lookup does, in order; past the end, "good". */
  private final Deque<Supplier<ListenableFuture<String>>> lookups = new ArrayDeque<>();
  private final List<IdleConnection> made = new ArrayList<>();
  private final List<Event<String, IdleConnection>> events = new ArrayList<>();
  private final SettableFuture<IdleConnection> slowConnect = SettableFuture.create();

  private void advance(Duration duration) {
    clock.add(duration);
    scheduler.advance(duration);
  }

  private PersistentConnection<String, IdleConnection> connection(String name) {
    return PersistentConnection.<String, IdleConnection>builder(name)
        .addressLookup(
            () -> {
              Supplier<ListenableFuture<String>> next = lookups.poll();
              return next != null ? next.get() : Futures.immediateFuture("good");
            })
        .connector(
            address ->
                switch (address) {
                  case "refused" -> Futures.immediateFailedFuture(new IllegalStateException("refused"));
                  case "slow" -> slowConnect;
                  default -> Futures.immediateFuture(remember(new IdleConnection()));
                })
        .initializer(
            connection ->
                made.size() == 1 && made.get(0) == connection && initFails.get() > 0
                    ? Futures.immediateFailedFuture(new IllegalStateException("no warm-up"))
                    : Futures.immediateVoidFuture())
        .retryDelay(Duration.ofSeconds(1))
        .randomizeRetryDelay(false)
        .scheduler(scheduler)
        .onEvent(events::add)
        .build();
  }

  /** A builder for "orders" with a standby, on this test's scheduler, retrying after 1 s. */
  private PersistentConnection.Builder<String, IdleConnection> withStandby(
      dev.tether.AddressLookup<String> lookup, dev.tether.Connector<String, IdleConnection> connector) {
    return PersistentConnection.<String, IdleConnection>builder("orders")
        .addressLookup(lookup)
        .connector(connector)
        .retryDelay(Duration.ofSeconds(1))
        .randomizeRetryDelay(false)
        .scheduler(scheduler)
        .standby(true);
  }

  private final AtomicInteger initFails = new AtomicInteger();

  private IdleConnection remember(IdleConnection connection) {
    made.add(connection);
    return connection;
  }

  private double count(String outcome, String stage, String name) {
    return registry
        .get(TetherMetrics.ATTEMPTS)
        .tags("connection", name, "outcome", outcome, "stage", stage)
        .counter()
        .count();
  }

  private double gauge(String meter, String name) {
    return registry.get(meter).tag("connection", name).gauge().value();
  }

  private Timer timer(String outcome, String name) {
    return registry.get(TetherMetrics.CONNECT).tags("connection", name, "outcome", outcome).timer();
  }

  @Test
  void aScriptedRun_countsEveryAttemptByStage_timesThem_andFollowsUpAndDrops() {
    RuntimeException down = new IllegalStateException("catalog down");
    lookups.add(() -> Futures.immediateFailedFuture(down));
    lookups.add(() -> Futures.immediateFailedFuture(down)); // the same failure: no second event
    lookups.add(() -> Futures.immediateFuture("refused"));
    lookups.add(() -> Futures.immediateFuture("slow"));
    PersistentConnection<String, IdleConnection> connection = connection("orders");
    Subscription metrics = TetherMetrics.bind(connection, registry);
    scheduler.runDueTasks(); // the first round: the lookup fails
    assertEquals(1, gauge(TetherMetrics.CONSECUTIVE_FAILURES, "orders"));
    advance(Duration.ofSeconds(1)); // fails the same way
    advance(Duration.ofSeconds(1)); // refused
    assertEquals(3, gauge(TetherMetrics.CONSECUTIVE_FAILURES, "orders"));
    advance(Duration.ofSeconds(1)); // slow: connects 250 ms later
    advance(Duration.ofMillis(250));
    assertEquals(0, gauge(TetherMetrics.UP, "orders"));
    IdleConnection slow = new IdleConnection();
    slowConnect.set(slow);
    assertEquals(1, gauge(TetherMetrics.UP, "orders"));
    assertEquals(0, gauge(TetherMetrics.CONSECUTIVE_FAILURES, "orders"));

    advance(Duration.ofSeconds(5));
    slow.drop(); // an old connection: the next round at once
    assertEquals(1, gauge(TetherMetrics.UP, "orders"));
    assertEquals(1, made.size());

    assertEquals(2, count("failure", "lookup", "orders"));
    assertEquals(1, count("failure", "connect", "orders"));
    assertEquals(0, count("failure", "initialize", "orders"));
    assertEquals(2, count("success", "none", "orders"));
    assertEquals(
        1, events.stream().filter(e -> e instanceof Event.FailedToConnect && ((Event.FailedToConnect<?, ?>) e).error().getCause() == down).count(),
        "the repeated failure is one event, two counts");
    assertEquals(1, registry.get(TetherMetrics.DISCONNECTS).tag("connection", "orders").counter().count());
    Timer succeeded = timer("success", "orders");
    assertEquals(2, succeeded.count());
    assertEquals(250, succeeded.max(TimeUnit.MILLISECONDS)); // the slow connect
    assertEquals(3, timer("failure", "orders").count());

    connection.close();
    assertEquals(0, gauge(TetherMetrics.UP, "orders"));
    assertEquals(2, registry.get(TetherMetrics.DISCONNECTS).tag("connection", "orders").counter().count());
    metrics.close();
  }

  @Test
  void aFailedInitializer_countsAsStageInitialize() {
    initFails.set(1);
    PersistentConnection<String, IdleConnection> connection = connection("orders");
    Subscription metrics = TetherMetrics.bind(connection, registry);
    scheduler.runDueTasks();
    assertEquals(1, count("failure", "initialize", "orders"));
    initFails.set(0);
    advance(Duration.ofSeconds(1));
    assertEquals(1, count("success", "none", "orders"));
    connection.close();
    metrics.close();
  }

  @Test
  void closingTheSubscription_removesEveryMeter_andCountsNothingMore() {
    PersistentConnection<String, IdleConnection> connection = connection("orders");
    Subscription metrics = TetherMetrics.bind(connection, registry);
    assertEquals(9, registry.getMeters().size()); // 4 attempt counters, 2 timers, 2 gauges, drops
    metrics.close();
    metrics.close(); // idempotent
    assertTrue(registry.getMeters().isEmpty());
    scheduler.runDueTasks();
    assertTrue(registry.getMeters().isEmpty());
    connection.close();
    // Bound again after the first was removed: allowed.
    TetherMetrics.bind(connection, registry).close();
  }

  /**
   * Binds a persistent connection (its own scheduler; its one attempt failed) whose subscription
   * is never closed, closes it, and returns a weak reference to it.
   */
  private WeakReference<PersistentConnection<?, ?>> boundFailedAndClosed(String name) {
    VirtualTimeScheduler own = VirtualTimeScheduler.create();
    PersistentConnection<String, IdleConnection> connection =
        PersistentConnection.<String, IdleConnection>builder(name)
            .addressLookup(() -> Futures.immediateFailedFuture(new IllegalStateException("down")))
            .connector(address -> Futures.immediateFuture(new IdleConnection()))
            .retryDelay(Duration.ofSeconds(1))
            .scheduler(own)
            .build();
    Subscription unused = TetherMetrics.bind(connection, registry); // never closed
    own.runDueTasks();
    assertEquals(1, gauge(TetherMetrics.CONSECUTIVE_FAILURES, name));
    connection.close();
    own.runDueTasks();
    assertEquals(ConnectionState.Status.CLOSED, connection.state().status());
    return new WeakReference<>(connection);
  }

  @Test
  void aClosedConnection_isLetGoByTheGauges_whichKeepItsLastValues() {
    WeakReference<PersistentConnection<?, ?>> closed = boundFailedAndClosed("orders");
    for (int i = 0; i < 20 && closed.get() != null; i++) {
      System.gc(); // bounded: a reachable connection fails below
    }
    assertNull(closed.get(), "the registry keeps the closed persistent connection reachable");
    assertEquals(0, gauge(TetherMetrics.UP, "orders"));
    assertEquals(1, gauge(TetherMetrics.CONSECUTIVE_FAILURES, "orders"));
  }

  @Test
  void aLateBind_showsTheCurrentState_andCountsFromTheBind() {
    PersistentConnection<String, IdleConnection> connection = connection("orders");
    scheduler.runDueTasks();
    Subscription metrics = TetherMetrics.bind(connection, registry);
    assertEquals(1, gauge(TetherMetrics.UP, "orders"));
    assertEquals(0, count("success", "none", "orders"));
    made.get(0).drop(); // young: waits for the timer
    assertEquals(0, gauge(TetherMetrics.UP, "orders"));
    assertEquals(1, registry.get(TetherMetrics.DISCONNECTS).tag("connection", "orders").counter().count());
    advance(Duration.ofSeconds(1));
    assertEquals(1, count("success", "none", "orders"));
    connection.close();
    metrics.close();
  }

  @Test
  void manyConnections_haveTheirOwnMeters_andOneNameBindsOnce() {
    List<PersistentConnection<String, IdleConnection>> connections = new ArrayList<>();
    List<Subscription> bound = new ArrayList<>();
    for (String name : List.of("a", "b", "c")) {
      PersistentConnection<String, IdleConnection> connection = connection(name);
      connections.add(connection);
      bound.add(TetherMetrics.bind(connection, registry));
    }
    scheduler.runDueTasks();
    made.get(1).drop(); // b's connection
    assertEquals(1, gauge(TetherMetrics.UP, "a"));
    assertEquals(0, gauge(TetherMetrics.UP, "b"));
    assertEquals(1, gauge(TetherMetrics.UP, "c"));
    assertEquals(1, registry.get(TetherMetrics.DISCONNECTS).tag("connection", "b").counter().count());
    assertEquals(0, registry.get(TetherMetrics.DISCONNECTS).tag("connection", "a").counter().count());
    IllegalStateException twice =
        assertThrows(IllegalStateException.class, () -> TetherMetrics.bind(connections.get(0), registry));
    assertEquals("a persistent connection to \"a\" is bound to this registry already", twice.getMessage());
    bound.get(1).close();
    assertEquals(18, registry.getMeters().size());
    assertNotNull(registry.find(TetherMetrics.UP).tag("connection", "c").gauge());
    connections.forEach(PersistentConnection::close);
    bound.forEach(Subscription::close);
  }

  @Test
  void theConnectTimer_startsWithTheLookup() {
    SettableFuture<String> slowLookup = SettableFuture.create();
    lookups.add(() -> slowLookup);
    PersistentConnection<String, IdleConnection> connection = connection("orders");
    Subscription metrics = TetherMetrics.bind(connection, registry);
    scheduler.runDueTasks();
    advance(Duration.ofMillis(100));
    slowLookup.set("good");
    Timer succeeded = timer("success", "orders");
    assertEquals(1, succeeded.count());
    assertEquals(100, succeeded.totalTime(TimeUnit.MILLISECONDS));
    connection.close();
    metrics.close();
  }

  @Test
  void attemptsThatOutlastTheirRetryDelay_areEachTimed_fromTheirOwnStart() {
    SettableFuture<String> first = SettableFuture.create();
    SettableFuture<String> second = SettableFuture.create();
    lookups.add(() -> first);
    lookups.add(() -> second);
    PersistentConnection<String, IdleConnection> connection = connection("orders");
    Subscription metrics = TetherMetrics.bind(connection, registry);
    scheduler.runDueTasks();

    advance(Duration.ofSeconds(2)); // past the retry delay of 1 s: the next attempt starts at once
    first.setException(new IllegalStateException("catalog slow"));
    advance(Duration.ofMillis(1500));
    second.setException(new IllegalStateException("catalog slow"));

    Timer failed = timer("failure", "orders");
    assertEquals(2, failed.count(), "each failed attempt timed");
    assertEquals(3500, failed.totalTime(TimeUnit.MILLISECONDS));
    assertEquals(2, count("failure", "lookup", "orders"));
    Timer succeeded = timer("success", "orders"); // the third started at once and looked up "good"
    assertEquals(1, succeeded.count());
    assertEquals(0, succeeded.totalTime(TimeUnit.MILLISECONDS));
    connection.close();
    metrics.close();
  }

  @Test
  void standbyAndHandoverAttempts_countAsAttempts_andTheTakeoverAsADrop() {
    // The loop, the standby, the next standby, then the handover's new address.
    Deque<String> answers = new ArrayDeque<>(List.of("a", "b", "a", "c"));
    PersistentConnection<String, IdleConnection> connection =
        withStandby(
                () -> Futures.immediateFuture(answers.isEmpty() ? "d" : answers.poll()),
                address -> Futures.immediateFuture(remember(new IdleConnection())))
            .build();
    Subscription metrics = TetherMetrics.bind(connection, registry);
    scheduler.runDueTasks();
    advance(Duration.ofSeconds(2)); // the standby is prepared in the background
    assertTrue(connection.state().standbyAddress() != null, "a live standby");
    assertEquals(2, count("success", "none", "orders"), "the loop's attempt and the standby's");
    IdleConnection first = made.get(0);
    first.drop(); // the standby takes over (no attempt: no lookup, no connect); the next standby
    assertEquals(1, gauge(TetherMetrics.UP, "orders"));
    assertEquals(3, count("success", "none", "orders"), "the next standby's attempt");
    assertEquals(1, registry.get(TetherMetrics.DISCONNECTS).tag("connection", "orders").counter().count());
    assertEquals(3, timer("success", "orders").count());

    advance(Duration.ofSeconds(2));
    ListenableFuture<IdleConnection> handedOver = connection.handOver();
    advance(Duration.ofSeconds(2));
    assertTrue(handedOver.isDone());
    assertEquals("c", connection.state().address());
    assertEquals(4, count("success", "none", "orders"), "the handover's attempt");
    assertEquals(2, registry.get(TetherMetrics.DISCONNECTS).tag("connection", "orders").counter().count());
    assertEquals(0, count("failure", "connect", "orders"));
    assertEquals(
        connection.state().attempts(),
        (long) count("success", "none", "orders"),
        "every attempt started since the bind ended in success");
    connection.close();
    metrics.close();
  }

  @Test
  void failedBackgroundAttempts_countByStage_andAreTimed_thoughNoStateShowsThem() {
    // The loop's attempt connects to "a"; the standby's attempts are refused, then fail their
    // lookup, then fail their initializer.
    Deque<Supplier<ListenableFuture<String>>> answers =
        new ArrayDeque<>(
            List.of(
                () -> Futures.immediateFuture("a"),
                () -> Futures.immediateFuture("refused"),
                () -> Futures.immediateFailedFuture(new IllegalStateException("catalog down"))));
    AtomicInteger initialized = new AtomicInteger();
    SettableFuture<String> slowStandbyLookup = SettableFuture.create();
    PersistentConnection<String, IdleConnection> connection =
        withStandby(
                () -> {
                  Supplier<ListenableFuture<String>> next = answers.poll();
                  return next != null ? next.get() : slowStandbyLookup;
                },
                address ->
                    address.equals("refused")
                        ? Futures.immediateFailedFuture(new IllegalStateException("refused"))
                        : Futures.immediateFuture(remember(new IdleConnection())))
            .initializer(
                c ->
                    initialized.incrementAndGet() == 2
                        ? Futures.immediateFailedFuture(new IllegalStateException("cold"))
                        : Futures.immediateVoidFuture())
            .build();
    Subscription metrics = TetherMetrics.bind(connection, registry);
    List<ConnectionState<String, IdleConnection>> states = new ArrayList<>();
    Subscription watching = connection.subscribeState(states::add);
    scheduler.runDueTasks(); // connected to "a"; the standby's first attempt is refused
    assertEquals(1, count("success", "none", "orders"));
    assertEquals(1, count("failure", "connect", "orders"));
    advance(Duration.ofSeconds(1)); // the standby's second attempt: its lookup fails
    assertEquals(1, count("failure", "lookup", "orders"));
    assertEquals(2, timer("failure", "orders").count());
    assertEquals(0, gauge(TetherMetrics.CONSECUTIVE_FAILURES, "orders"), "the loop's count only");
    advance(Duration.ofSeconds(1)); // the third standby attempt waits on its lookup
    advance(Duration.ofMillis(500));
    slowStandbyLookup.set("b"); // and its initializer fails
    assertEquals(1, count("failure", "initialize", "orders"));
    Timer failed = timer("failure", "orders");
    assertEquals(3, failed.count());
    // It started when the second's timer fired (t = 2 s), failed at t = 2.5 s; the others at once.
    assertEquals(500, failed.totalTime(TimeUnit.MILLISECONDS), "timed from its lookup");
    assertTrue(
        states.stream()
            .dropWhile(state -> state.status() != ConnectionState.Status.CONNECTED)
            .allMatch(
                state ->
                    state.status() == ConnectionState.Status.CONNECTED && state.lastFailure() == null),
        "no state shows the background failures: " + states);
    connection.close();
    watching.close();
    metrics.close();
  }

  @Test
  void anAttemptIsCounted_beforeItsEventIsDelivered() {
    lookups.add(() -> Futures.immediateFuture("refused"));
    PersistentConnection<String, IdleConnection> connection = connection("orders");
    Subscription metrics = TetherMetrics.bind(connection, registry);
    List<Double> seen = new ArrayList<>();
    Subscription listening =
        connection.subscribe(
            event -> {
              if (event instanceof Event.FailedToConnect) {
                seen.add(count("failure", "connect", "orders"));
              } else if (event instanceof Event.Connected) {
                seen.add(count("success", "none", "orders"));
              }
            });
    scheduler.runDueTasks();
    advance(Duration.ofSeconds(1));
    assertEquals(List.of(1.0, 1.0), seen);
    connection.close();
    listening.close();
    metrics.close();
  }

  @Test
  void anAttemptInFlightAtTheBind_isCountedUntimed_andOneStartedAfterIsTimed() {
    SettableFuture<String> slowLookup = SettableFuture.create();
    lookups.add(() -> slowLookup);
    lookups.add(() -> Futures.immediateFuture("refused"));
    PersistentConnection<String, IdleConnection> connection = connection("orders");
    scheduler.runDueTasks(); // the first attempt waits on its lookup
    Subscription metrics = TetherMetrics.bind(connection, registry);
    advance(Duration.ofMillis(300));
    slowLookup.set("refused");
    assertEquals(1, count("failure", "connect", "orders"));
    assertEquals(0, timer("failure", "orders").count(), "its start came before the bind");
    advance(Duration.ofMillis(700)); // the next attempt: refused too
    assertEquals(2, count("failure", "connect", "orders"));
    assertEquals(1, timer("failure", "orders").count());
    connection.close();
    metrics.close();
  }

  @Test
  void aBindRightAfterBuild_countsTheFirstAttempt_startedBeforeOrAfterIt() throws Exception {
    for (int i = 0; i < 20; i++) {
      SimpleMeterRegistry own = new SimpleMeterRegistry();
      SettableFuture<IdleConnection> connecting = SettableFuture.create();
      PersistentConnection<String, IdleConnection> connection =
          PersistentConnection.<String, IdleConnection>builder("orders")
              .addressLookup(() -> Futures.immediateFuture("good"))
              .connector(address -> connecting)
              .build(); // the first attempt starts on Tether's scheduler, perhaps before the bind
      Subscription metrics = TetherMetrics.bind(connection, own);
      connecting.set(new IdleConnection()); // it ends after the bind
      connection.connected().get(10, TimeUnit.SECONDS);
      assertEquals(
          1,
          own.get(TetherMetrics.ATTEMPTS).tags("outcome", "success").counter().count(),
          "run " + i);
      connection.close().get(10, TimeUnit.SECONDS);
      metrics.close();
    }
  }

  @Test
  void aRebindRacingTheCloseOfTheLastBinding_endsWithTheNewBindingsMetersOnly() throws Exception {
    PersistentConnection<String, IdleConnection> old = connection("orders");
    PersistentConnection<String, IdleConnection> fresh = connection("orders");
    scheduler.runDueTasks(); // both connected
    for (int round = 0; round < 200; round++) {
      Subscription previous = TetherMetrics.bind(old, registry);
      Thread closer = new Thread(previous::close);
      closer.start();
      Subscription current;
      while (true) {
        try {
          current = TetherMetrics.bind(fresh, registry);
          break;
        } catch (IllegalStateException stillBound) {
          Thread.onSpinWait();
        }
      }
      closer.join(10_000);
      assertEquals(9, registry.getMeters().size(), "round " + round);
      made.get(1).drop(); // the fresh one's connection: its gauge must follow it
      assertEquals(0, gauge(TetherMetrics.UP, "orders"), "round " + round);
      current.close();
      advance(Duration.ofSeconds(1)); // reconnected
      made.remove(1); // the dropped one; the fresh one's new connection is now second
      assertEquals(2, made.size());
    }
    old.close();
    fresh.close();
  }

  @Test
  @SuppressWarnings("unchecked") // a proxy of the interface
  void aConnectionOfAnotherMake_getsTheGaugesAndDisconnects_butNoAttemptCounts() {
    PersistentConnection<String, IdleConnection> real = connection("orders");
    PersistentConnection<String, IdleConnection> decorated =
        (PersistentConnection<String, IdleConnection>)
            java.lang.reflect.Proxy.newProxyInstance(
                getClass().getClassLoader(),
                new Class<?>[] {PersistentConnection.class},
                (proxy, method, args) -> {
                  try {
                    return method.invoke(real, args);
                  } catch (java.lang.reflect.InvocationTargetException e) {
                    throw e.getCause();
                  }
                });
    Subscription metrics = TetherMetrics.bind(decorated, registry);
    scheduler.runDueTasks();
    assertEquals(1, gauge(TetherMetrics.UP, "orders"));
    made.get(0).drop();
    assertEquals(1, registry.get(TetherMetrics.DISCONNECTS).tag("connection", "orders").counter().count());
    assertEquals(0, count("success", "none", "orders"), "not counted, as the bind warned");
    real.close();
    metrics.close();
  }

  @Test
  @SuppressWarnings("NullAway")
  void nullArguments_failNamingThem() {
    PersistentConnection<String, IdleConnection> connection = connection("orders");
    assertEquals(
        "connection",
        assertThrows(NullPointerException.class, () -> TetherMetrics.bind(null, registry)).getMessage());
    assertEquals(
        "registry",
        assertThrows(NullPointerException.class, () -> TetherMetrics.bind(connection, null)).getMessage());
    connection.close();
  }
}
