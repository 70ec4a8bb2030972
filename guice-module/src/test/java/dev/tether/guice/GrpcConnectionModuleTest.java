package dev.tether.guice;

import static com.google.common.util.concurrent.Futures.immediateFuture;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.common.util.concurrent.ListenableFuture;
import com.google.inject.AbstractModule;
import com.google.inject.CreationException;
import com.google.inject.Guice;
import com.google.inject.Injector;
import com.google.inject.Key;
import com.google.inject.Stage;
import com.google.inject.TypeLiteral;
import com.google.inject.name.Names;
import dev.tether.AddressLookup;
import dev.tether.Event;
import dev.tether.PersistentConnection;
import dev.tether.grpc.ChannelFactory;
import dev.tether.grpc.Echo;
import dev.tether.grpc.EventQueue;
import dev.tether.grpc.GrpcConnection;
import dev.tether.grpc.PersistentChannel;
import dev.tether.grpc.Servers;
import io.grpc.Channel;
import io.grpc.Server;
import jakarta.inject.Inject;
import jakarta.inject.Singleton;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

class GrpcConnectionModuleTest {
  @RegisterExtension final Servers servers = new Servers();
  private Injector injector = Guice.createInjector();

  @AfterEach
  void closeEverything() throws Exception {
    injector.getInstance(ConnectionRegistry.class).closeAll().get(10, TimeUnit.SECONDS);
  }

  /** A fake service catalog: which server answers for "orders" right now. */
  @Singleton
  static final class Catalog {
    volatile String orders = "orders-1";
    final AtomicInteger asked = new AtomicInteger();

    @Inject
    Catalog() {}
  }

  /** A lookup that injects its own dependency. */
  static final class CatalogLookup implements AddressLookup<String> {
    private final Catalog catalog;

    @Inject
    CatalogLookup(Catalog catalog) {
      this.catalog = catalog;
    }

    @Override
    public ListenableFuture<String> lookup() {
      catalog.asked.incrementAndGet();
      return immediateFuture(catalog.orders);
    }
  }

  /** A service that builds its stub once, in its constructor. */
  static final class OrdersClient {
    private final Echo.Stub stub;

    @Inject
    OrdersClient(@com.google.inject.name.Named("orders") Channel channel) {
      this.stub = new Echo.Stub(channel).withWaitForReady();
    }

    String call(String request) {
      return stub.withDeadlineAfter(10, TimeUnit.SECONDS).say(request);
    }
  }

  /** Injects with jakarta's @Named. */
  static final class JakartaUser {
    final Channel channel;
    final PersistentConnection<?, ?> connection;

    @Inject
    JakartaUser(
        @jakarta.inject.Named("orders") Channel channel,
        @jakarta.inject.Named("orders") PersistentConnection<?, ?> connection) {
      this.channel = channel;
      this.connection = connection;
    }
  }

  private static GrpcConnectionModule.Builder<String> orders() {
    return GrpcConnectionModule.builder("orders", String.class, ChannelFactory.inProcess())
        .retryDelay(Duration.ofMillis(100));
  }

  @Test
  void injectedChannel_makesCalls_andTheLookupFollowsTheCatalog() throws Exception {
    Server first = servers.inProcess("orders-1");
    servers.inProcess("orders-2");
    EventQueue<String, GrpcConnection<String>> events = new EventQueue<>();
    injector = Guice.createInjector(orders().lookup(CatalogLookup.class).onEvent(events).build());

    OrdersClient client = injector.getInstance(OrdersClient.class);
    assertEquals("orders-1: hi", client.call("hi"));

    injector.getInstance(Catalog.class).orders = "orders-2";
    first.shutdownNow();
    events.next(Event.Disconnected.class, 10);
    assertEquals("orders-2: again", client.call("again"));
    assertTrue(injector.getInstance(Catalog.class).asked.get() >= 2);
  }

  @Test
  void namedBindings_areSingletons_andJakartaNamedIsTheSameKey() {
    servers.inProcess("orders-1");
    injector = Guice.createInjector(orders().lookup(CatalogLookup.class).build());
    JakartaUser user = injector.getInstance(JakartaUser.class);
    Channel guiceNamed = injector.getInstance(Key.get(Channel.class, Names.named("orders")));
    PersistentChannel persistentChannel =
        injector.getInstance(Key.get(PersistentChannel.class, Names.named("orders")));
    PersistentConnection<String, GrpcConnection<String>> typed =
        injector.getInstance(
            Key.get(
                new TypeLiteral<PersistentConnection<String, GrpcConnection<String>>>() {},
                Names.named("orders")));
    assertSame(guiceNamed, user.channel);
    assertSame(persistentChannel, user.channel);
    assertSame(typed, user.connection);
    assertEquals("orders", typed.serverName());
  }

  @Test
  void lookupFromANamedBinding_whenNoneIsGiven() throws Exception {
    servers.inProcess("orders-1");
    injector =
        Guice.createInjector(
            orders().build(),
            new AbstractModule() {
              @Override
              protected void configure() {
                bind(new TypeLiteral<AddressLookup<String>>() {})
                    .annotatedWith(Names.named("orders"))
                    .to(CatalogLookup.class);
              }
            });
    assertEquals("orders-1: named", injector.getInstance(OrdersClient.class).call("named"));
  }

  @Test
  void lookupFromAProvider_getsItsMembersInjected() throws Exception {
    servers.inProcess("orders-1");
    final class CatalogProvider implements jakarta.inject.Provider<AddressLookup<String>> {
      @Inject Catalog catalog;

      @Override
      public AddressLookup<String> get() {
        return () -> immediateFuture(catalog.orders);
      }
    }
    injector = Guice.createInjector(orders().lookup(new CatalogProvider()).build());
    assertEquals("orders-1: provided", injector.getInstance(OrdersClient.class).call("provided"));
  }

  @Test
  void registry_listsEveryConnection_andClosesThemAll() throws Exception {
    servers.inProcess("orders-1");
    servers.inProcess("billing-1");
    injector =
        Guice.createInjector(
            orders().lookup(CatalogLookup.class).build(),
            GrpcConnectionModule.builder("billing", String.class, ChannelFactory.inProcess())
                .lookup(() -> () -> immediateFuture("billing-1"))
                .build());
    PersistentConnection<?, ?> orders =
        injector.getInstance(Key.get(new TypeLiteral<PersistentConnection<?, ?>>() {}, Names.named("orders")));
    PersistentConnection<?, ?> billing =
        injector.getInstance(Key.get(new TypeLiteral<PersistentConnection<?, ?>>() {}, Names.named("billing")));
    GrpcConnection<?> ordersChannel = (GrpcConnection<?>) orders.connected().get(10, TimeUnit.SECONDS);
    GrpcConnection<?> billingChannel = (GrpcConnection<?>) billing.connected().get(10, TimeUnit.SECONDS);

    ConnectionRegistry registry = injector.getInstance(ConnectionRegistry.class);
    assertEquals(java.util.List.of("orders", "billing"), java.util.List.copyOf(registry.connections().keySet()));
    registry.closeAll().get(10, TimeUnit.SECONDS);
    assertTrue(orders.isClosed());
    assertTrue(billing.isClosed());
    assertTrue(ordersChannel.channel().isTerminated());
    assertTrue(billingChannel.channel().isTerminated());
  }

  @Test
  void connectionsDeclaredInAParentAndItsChildren_areEachInjected_andClosedTogether()
      throws Exception {
    servers.inProcess("orders-1");
    servers.inProcess("billing-1");
    servers.inProcess("billing-2");
    injector = Guice.createInjector(orders().lookup(CatalogLookup.class).build());
    Injector child =
        injector.createChildInjector(
            GrpcConnectionModule.builder("billing", String.class, ChannelFactory.inProcess())
                .lookup(() -> () -> immediateFuture("billing-1"))
                .build());
    Injector sibling = // the same name in a sibling: its own connection
        injector.createChildInjector(
            GrpcConnectionModule.builder("billing", String.class, ChannelFactory.inProcess())
                .lookup(() -> () -> immediateFuture("billing-2"))
                .build());
    Key<Channel> billing = Key.get(Channel.class, Names.named("billing"));
    assertEquals("orders-1: parent", child.getInstance(OrdersClient.class).call("parent"));
    assertEquals(
        "billing-1: child", new Echo.Stub(child.getInstance(billing)).withWaitForReady().say("child"));
    assertEquals(
        "billing-2: sibling",
        new Echo.Stub(sibling.getInstance(billing)).withWaitForReady().say("sibling"));

    ConnectionRegistry registry = injector.getInstance(ConnectionRegistry.class);
    assertEquals(registry, child.getInstance(ConnectionRegistry.class), "one registry, the parent's");
    registry.closeAll().get(10, TimeUnit.SECONDS);
    for (Injector each : java.util.List.of(child, sibling)) {
      assertTrue(
          each.getInstance(
                  Key.get(new TypeLiteral<PersistentConnection<?, ?>>() {}, Names.named("billing")))
              .isClosed());
    }
  }

  @Test
  void aCallOnTheInjectedChannelAfterCloseAll_failsAtOnceSayingSo() throws Exception {
    servers.inProcess("orders-1");
    injector = Guice.createInjector(orders().lookup(CatalogLookup.class).build());
    OrdersClient client = injector.getInstance(OrdersClient.class);
    assertEquals("orders-1: before", client.call("before"));
    injector.getInstance(ConnectionRegistry.class).closeAll().get(10, TimeUnit.SECONDS);

    // A wait-for-ready call with a 10 s deadline: UNAVAILABLE, not DEADLINE_EXCEEDED, so it did
    // not wait for a connection that will never come.
    io.grpc.StatusRuntimeException e =
        assertThrows(io.grpc.StatusRuntimeException.class, () -> client.call("after"));
    assertEquals(io.grpc.Status.Code.UNAVAILABLE, e.getStatus().getCode());
    assertEquals("persistent connection to orders is closed", e.getStatus().getDescription());
  }

  @Test
  void withExplicitBindingsRequired_theApplicationBindsTheRegistry() throws Exception {
    servers.inProcess("orders-1");
    AbstractModule strict =
        new AbstractModule() {
          @Override
          protected void configure() {
            binder().requireExplicitBindings();
            bind(Catalog.class);
            bind(CatalogLookup.class);
            bind(OrdersClient.class);
          }
        };
    CreationException unbound =
        assertThrows(
            CreationException.class,
            () -> Guice.createInjector(strict, orders().lookup(CatalogLookup.class).build()));
    String message = String.valueOf(unbound.getMessage());
    assertTrue(message.contains(ConnectionRegistry.class.getName()), message);

    injector =
        Guice.createInjector(
            strict,
            orders().lookup(CatalogLookup.class).build(),
            new AbstractModule() {
              @Override
              protected void configure() {
                bind(ConnectionRegistry.class);
              }
            });
    assertEquals("orders-1: strict", injector.getInstance(OrdersClient.class).call("strict"));
    assertEquals(
        java.util.List.of("orders"),
        java.util.List.copyOf(injector.getInstance(ConnectionRegistry.class).connections().keySet()));
  }

  @Test
  void productionStage_connectsEagerly() throws Exception {
    servers.inProcess("orders-1");
    injector = Guice.createInjector(Stage.PRODUCTION, orders().lookup(CatalogLookup.class).build());
    PersistentConnection<?, ?> orders = injector.getInstance(ConnectionRegistry.class).connections().get("orders");
    assertTrue(orders != null, "made at injector creation");
    orders.connected().get(10, TimeUnit.SECONDS);
  }

  @Test
  void sameDeclarationInstalledTwice_isHarmless() {
    GrpcConnectionModule<String> module = orders().lookup(CatalogLookup.class).build();
    injector =
        Guice.createInjector(
            module,
            new AbstractModule() {
              @Override
              protected void configure() {
                install(module);
              }
            });
    assertTrue(injector.getInstance(Key.get(Channel.class, Names.named("orders"))) != null);
  }

  private static String creationError(com.google.inject.Module... modules) {
    CreationException e = assertThrows(CreationException.class, () -> Guice.createInjector(modules));
    return String.valueOf(e.getMessage());
  }

  @Test
  void twoDifferentDeclarationsOfOneName_failAtCreation_namingIt() {
    String message =
        creationError(orders().lookup(CatalogLookup.class).build(), orders().lookup(CatalogLookup.class).build());
    assertTrue(message.contains("persistent connection \"orders\""), message);
  }

  @Test
  void blankName_failsAtCreation() {
    String message =
        creationError(
            GrpcConnectionModule.builder(" ", String.class, ChannelFactory.inProcess())
                .lookup(CatalogLookup.class)
                .build());
    assertTrue(message.contains("needs a name that is not blank"), message);
  }

  @Test
  void noLookupBound_failsAtCreation_namingTheConnection() {
    String message = creationError(orders().build());
    assertTrue(message.contains("persistent connection \"orders\""), message);
    assertTrue(message.contains("AddressLookup<String>"), message);
  }

  /** A lookup Guice cannot build: no injectable constructor. */
  static final class Unbuildable implements AddressLookup<String> {
    Unbuildable(String notInjectable) {}

    @Override
    public ListenableFuture<String> lookup() {
      return immediateFuture("x");
    }
  }

  @Test
  void lookupThatCannotBeBuilt_failsAtCreation_namingTheConnection() {
    String message = creationError(orders().lookup(Unbuildable.class).build());
    assertTrue(message.contains("persistent connection \"orders\""), message);
    assertTrue(message.contains("Unbuildable"), message);
  }
}
