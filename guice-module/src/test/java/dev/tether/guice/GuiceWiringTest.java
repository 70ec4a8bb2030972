package dev.tether.guice;

import static com.google.common.util.concurrent.Futures.immediateFuture;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.common.base.Ticker;
import com.google.common.util.concurrent.Futures;
import com.google.common.util.concurrent.SettableFuture;
import com.google.inject.AbstractModule;
import com.google.inject.CreationException;
import com.google.inject.Guice;
import com.google.inject.Injector;
import com.google.inject.Key;
import com.google.inject.Module;
import com.google.inject.Provider;
import com.google.inject.ProvisionException;
import com.google.inject.Stage;
import com.google.inject.TypeLiteral;
import com.google.inject.name.Names;
import dev.tether.ConnectionState;
import dev.tether.PersistentConnection;
import dev.tether.ReconnectBudget;
import dev.tether.grpc.ChannelFactory;
import dev.tether.grpc.Servers;
import dev.tether.micrometer.TetherMetrics;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** The registry's states, metrics, the connector and persistent-connection options, a shared budget. */
class GuiceWiringTest {
  @RegisterExtension final Servers servers = new Servers();
  private final SimpleMeterRegistry meters = new SimpleMeterRegistry();
  private Injector injector = Guice.createInjector();

  @AfterEach
  void closeEverything() throws Exception {
    injector.getInstance(ConnectionRegistry.class).closeAll().get(10, TimeUnit.SECONDS);
  }

  private static GrpcConnectionModule.Builder<String> named(String name) {
    return GrpcConnectionModule.builder(name, String.class, ChannelFactory.inProcess())
        .lookup(() -> () -> immediateFuture(name + "-1"))
        .retryDelay(Duration.ofMillis(100));
  }

  private PersistentConnection<?, ?> connection(String name) {
    return connection(injector, name);
  }

  private static PersistentConnection<?, ?> connection(Injector injector, String name) {
    return injector.getInstance(
        Key.get(new TypeLiteral<PersistentConnection<?, ?>>() {}, Names.named(name)));
  }

  private Module meterRegistry() {
    return new AbstractModule() {
      @Override
      protected void configure() {
        bind(MeterRegistry.class).toInstance(meters);
      }
    };
  }

  @Test
  void theRegistry_givesEveryConnectionsState() throws Exception {
    servers.inProcess("orders-1");
    injector = Guice.createInjector(named("orders").build(), named("billing").build());
    connection("orders").connected().get(10, TimeUnit.SECONDS);
    connection("billing"); // made, never connects: no server "billing-1"
    Map<String, ConnectionState<?, ?>> states = injector.getInstance(ConnectionRegistry.class).states();
    assertEquals(List.of("orders", "billing"), List.copyOf(states.keySet()));
    assertEquals(ConnectionState.Status.CONNECTED, java.util.Objects.requireNonNull(states.get("orders")).status());
    assertTrue(java.util.Objects.requireNonNull(states.get("billing")).status() != ConnectionState.Status.CONNECTED);
  }

  @Test
  void metrics_areBoundWhenAsked_andRemovedByCloseAll() throws Exception {
    servers.inProcess("orders-1");
    injector = Guice.createInjector(meterRegistry(), named("orders").metrics().build());
    connection("orders").connected().get(10, TimeUnit.SECONDS);
    assertEquals(1, meters.get(TetherMetrics.UP).tag("connection", "orders").gauge().value(), () -> connection("orders").state().toString());
    injector.getInstance(ConnectionRegistry.class).closeAll().get(10, TimeUnit.SECONDS);
    assertNull(meters.find(TetherMetrics.UP).tag("connection", "orders").gauge());
    assertTrue(meters.getMeters().isEmpty());
  }

  @Test
  void metrics_inProductionStage_areThereAtInjectorCreation() throws Exception {
    servers.inProcess("orders-1");
    injector = Guice.createInjector(Stage.PRODUCTION, meterRegistry(), named("orders").metrics().build());
    assertNotNull(meters.find(TetherMetrics.UP).tag("connection", "orders").gauge());
  }

  @Test
  void aConnectionWhoseMetersCannotBind_failsProvisioning_andIsClosed() throws Exception {
    servers.inProcess("orders-1");
    // Another injector's connection of the same name holds these meters already.
    Injector other = Guice.createInjector(meterRegistry(), named("orders").metrics().build());
    connection(other, "orders");
    injector = Guice.createInjector(meterRegistry(), named("orders").metrics().build());
    ProvisionException e = assertThrows(ProvisionException.class, () -> connection(injector, "orders"));
    assertTrue(String.valueOf(e.getMessage()).contains("is bound to this registry already"), e.getMessage());
    assertTrue(injector.getInstance(ConnectionRegistry.class).connections().isEmpty());
    other.getInstance(ConnectionRegistry.class).closeAll().get(10, TimeUnit.SECONDS);
    assertTrue(meters.getMeters().isEmpty());
  }

  @Test
  void metrics_areAbsentUnlessAsked_evenWithARegistryBound() throws Exception {
    servers.inProcess("orders-1");
    injector = Guice.createInjector(meterRegistry(), named("orders").build());
    connection("orders").connected().get(10, TimeUnit.SECONDS);
    assertTrue(meters.getMeters().isEmpty());
  }

  @Test
  void metricsWithoutARegistry_failAtCreation_namingTheConnection() {
    CreationException e =
        assertThrows(CreationException.class, () -> Guice.createInjector(named("orders").metrics().build()));
    String message = String.valueOf(e.getMessage());
    assertTrue(message.contains("persistent connection \"orders\""), message);
    assertTrue(message.contains("MeterRegistry"), message);
  }

  @Test
  void theConnectorsOptions_comeThroughOneCustomizer() throws Exception {
    servers.inProcess("orders-1");
    AtomicInteger customized = new AtomicInteger();
    injector =
        Guice.createInjector(
            named("orders")
                .connector(
                    c ->
                        c.connectTimeout(Duration.ofSeconds(3))
                            .customizer(b -> customized.incrementAndGet()))
                .build());
    connection("orders").connected().get(10, TimeUnit.SECONDS);
    assertEquals(1, customized.get(), "the channel builder was customized");

    IllegalStateException twice =
        assertThrows(
            IllegalStateException.class, () -> named("orders").connector(c -> {}).connector(c -> {}));
    assertEquals("persistent connection \"orders\": connector was already set", twice.getMessage());
    assertThrows(
        IllegalArgumentException.class,
        () -> named("orders").connector(c -> c.connectTimeout(Duration.ofSeconds(-1))));
  }

  @Test
  void thePersistentConnectionsOptions_comeThroughOneCustomizer_andMisuseFailsAtBuild() throws Exception {
    servers.inProcess("orders-1");
    AtomicInteger initialized = new AtomicInteger();
    injector =
        Guice.createInjector(
            named("orders")
                .persistentConnection(
                    b ->
                        b.initializer(
                                c -> {
                                  initialized.incrementAndGet();
                                  return Futures.immediateVoidFuture();
                                })
                            .logger(org.slf4j.LoggerFactory.getLogger("orders")))
                .build());
    connection("orders").connected().get(10, TimeUnit.SECONDS);
    assertEquals(1, initialized.get());

    // retryDelay is set by the module already: the trial run in build() fails, naming it.
    IllegalStateException e =
        assertThrows(
            IllegalStateException.class,
            () -> named("orders").persistentConnection(b -> b.retryDelay(Duration.ofSeconds(1))).build());
    String message = String.valueOf(e.getMessage());
    assertTrue(message.startsWith("persistent connection \"orders\": its customizer failed"), message);
  }

  @Test
  void aCustomizerSettingWhatGuiceOrTheModuleSets_failsAtBuildOrInjectorCreation_namingTheConnection() {
    // The lookup comes from the module: build() fails.
    IllegalStateException lookupTwice =
        assertThrows(
            IllegalStateException.class,
            () ->
                named("orders")
                    .persistentConnection(b -> b.addressLookup(() -> Futures.immediateFuture("x")))
                    .build());
    String message = String.valueOf(lookupTwice.getMessage());
    assertTrue(message.startsWith("persistent connection \"orders\": its customizer failed"), message);
    assertTrue(message.contains("addressLookup"), message);

    // A budget bound in Guice: known only to the injector, whose creation fails.
    GrpcConnectionModule<String> ownBudget =
        named("orders")
            .persistentConnection(b -> b.reconnectBudget(ReconnectBudget.unlimited()))
            .build(); // no budget bound yet: fine here
    com.google.inject.CreationException e =
        assertThrows(
            com.google.inject.CreationException.class,
            () ->
                Guice.createInjector(
                    ownBudget,
                    new AbstractModule() {
                      @Override
                      protected void configure() {
                        bind(ReconnectBudget.class).toInstance(ReconnectBudget.unlimited());
                      }
                    }));
    String created = String.valueOf(e.getMessage());
    assertTrue(created.contains("persistent connection \"orders\": its customizer failed"), created);
    assertTrue(created.contains("reconnectBudget was already set"), created);
    // Without a budget in Guice, the same module makes an injector.
    injector = Guice.createInjector(ownBudget);
  }

  @Test
  void aBoundBudget_isSharedByEveryNamedConnection() throws Exception {
    servers.inProcess("orders-1");
    servers.inProcess("billing-1");
    // One token, and the next in an hour: whichever connection starts second waits for it.
    ReconnectBudget budget = ReconnectBudget.perSecond(1.0 / 3600, 1, Ticker.systemTicker());
    injector =
        Guice.createInjector(
            named("orders").build(),
            named("billing").build(),
            binding(budget));
    PersistentConnection<?, ?> orders = connection("orders");
    orders.connected().get(10, TimeUnit.SECONDS);
    // Its first round asks the budget for a token, and waits for the next one.
    ConnectionState<?, ?> state = waitingForTheNextToken(connection("billing"));
    assertEquals(ConnectionState.Status.WAITING_TO_RETRY, state.status());
    assertEquals(0, state.connections());
  }

  /** A module that binds {@code budget}, as an application would. */
  private static AbstractModule binding(ReconnectBudget budget) {
    return new AbstractModule() {
      @Override
      protected void configure() {
        bind(ReconnectBudget.class).toInstance(budget);
      }
    };
  }

  /** The first state of {@code connection} that waits more than half an hour: for a token. */
  private static ConnectionState<?, ?> waitingForTheNextToken(PersistentConnection<?, ?> connection)
      throws Exception {
    SettableFuture<ConnectionState<?, ?>> waiting = SettableFuture.create();
    connection.subscribeState(
        state -> {
          Duration retryIn = state.retryIn();
          if (retryIn != null && retryIn.compareTo(Duration.ofMinutes(30)) > 0) {
            waiting.set(state);
          }
        });
    return java.util.Objects.requireNonNull(waiting.get(10, TimeUnit.SECONDS));
  }

  @Test
  void aBudgetBoundInTheParent_isSharedByAChildInjectorsConnections() throws Exception {
    servers.inProcess("orders-1");
    servers.inProcess("billing-1");
    ReconnectBudget budget = ReconnectBudget.perSecond(1.0 / 3600, 1, Ticker.systemTicker());
    injector =
        Guice.createInjector(
            named("orders").build(),
            binding(budget));
    connection("orders").connected().get(10, TimeUnit.SECONDS); // took the only token
    Injector child = injector.createChildInjector(named("billing").build());
    PersistentConnection<?, ?> billing =
        child.getInstance(Key.get(new TypeLiteral<PersistentConnection<?, ?>>() {}, Names.named("billing")));
    ConnectionState<?, ?> state = waitingForTheNextToken(billing);
    assertEquals(ConnectionState.Status.WAITING_TO_RETRY, state.status(), "waits for the parent's budget");
  }

  @Test
  void closeAll_racingProvisioningOnOtherThreads_closesEveryConnectionMade() throws Exception {
    ExecutorService pool = Executors.newFixedThreadPool(4);
    try {
      for (int round = 0; round < 20; round++) {
        List<Module> modules = new ArrayList<>();
        for (int i = 0; i < 8; i++) {
          modules.add(named("svc" + i).build());
        }
        injector = Guice.createInjector(modules);
        ConnectionRegistry registry = injector.getInstance(ConnectionRegistry.class);
        CountDownLatch start = new CountDownLatch(1);
        List<Future<?>> provisioning = new ArrayList<>();
        for (int i = 0; i < 8; i++) {
          Provider<PersistentConnection<?, ?>> provider =
              injector.getProvider(Key.get(new TypeLiteral<PersistentConnection<?, ?>>() {}, Names.named("svc" + i)));
          provisioning.add(
              pool.submit(
                  () -> {
                    start.await();
                    return provider.get();
                  }));
        }
        start.countDown();
        registry.closeAll();
        for (Future<?> made : provisioning) {
          PersistentConnection<?, ?> connection = (PersistentConnection<?, ?>) made.get(10, TimeUnit.SECONDS);
          connection.closeFinished().get(10, TimeUnit.SECONDS); // closed by closeAll or at register
          assertTrue(connection.isClosed());
        }
        assertEquals(8, registry.connections().size());
      }
    } finally {
      pool.shutdownNow();
    }
  }
}
