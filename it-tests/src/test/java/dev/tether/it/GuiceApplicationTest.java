package dev.tether.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.common.net.HostAndPort;
import com.google.inject.AbstractModule;
import com.google.inject.Guice;
import com.google.inject.Injector;
import com.google.inject.Provides;
import com.google.inject.TypeLiteral;
import com.google.inject.name.Names;
import dev.tether.AddressLookup;
import dev.tether.PersistentConnection;
import dev.tether.grpc.ChannelFactory;
import dev.tether.grpc.Echo;
import dev.tether.grpc.GrpcConnection;
import dev.tether.grpc.Servers;
import dev.tether.guice.ConnectionRegistry;
import dev.tether.guice.GrpcConnectionModule;
import io.grpc.Channel;
import io.grpc.Server;
import jakarta.inject.Inject;
import jakarta.inject.Named;
import jakarta.inject.Singleton;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** An application wired with Guice: two named connections, a catalog-backed lookup, one registry. */
class GuiceApplicationTest {
  @RegisterExtension final Servers servers = new Servers();

  /** The application's services, each building its stub once from an injected channel. */
  static final class Checkout {
    private final Echo.Stub orders;
    private final Echo.Stub billing;

    @Inject
    Checkout(@Named("orders") Channel orders, @Named("billing") Channel billing) {
      this.orders = new Echo.Stub(orders).withWaitForReady();
      this.billing = new Echo.Stub(billing).withWaitForReady();
    }

    String checkout(String item) {
      String placed = orders.withDeadlineAfter(10, TimeUnit.SECONDS).say(item);
      String charged = billing.withDeadlineAfter(10, TimeUnit.SECONDS).say(item);
      return placed + " / " + charged;
    }
  }

  /** The application's wiring: the catalog is a dependency that lookups inject. */
  static final class AppModule extends AbstractModule {
    private final Catalog orders;
    private final Catalog billing;

    AppModule(Catalog orders, Catalog billing) {
      this.orders = orders;
      this.billing = billing;
    }

    @Override
    protected void configure() {
      install(
          GrpcConnectionModule.builder("orders", HostAndPort.class, ChannelFactory.plaintext())
              .retryDelay(Duration.ofMillis(200))
              .build());
      install(
          GrpcConnectionModule.builder("billing", HostAndPort.class, ChannelFactory.plaintext())
              .retryDelay(Duration.ofMillis(200))
              .build());
      bind(Catalog.class).annotatedWith(Names.named("orders")).toInstance(orders);
      bind(Catalog.class).annotatedWith(Names.named("billing")).toInstance(billing);
    }

    @Provides
    @Singleton
    @Named("orders")
    AddressLookup<HostAndPort> ordersLookup(@Named("orders") Catalog catalog) {
      return catalog.lookup();
    }

    @Provides
    @Singleton
    @Named("billing")
    AddressLookup<HostAndPort> billingLookup(@Named("billing") Catalog catalog) {
      return catalog.lookup();
    }
  }

  @Test
  void injectedServices_call_failOver_andCloseThroughTheRegistry() throws Exception {
    Catalog orders = new Catalog();
    Catalog billing = new Catalog();
    Server orders1 = servers.netty("orders-1", 0);
    Server orders2 = servers.netty("orders-2", 0);
    orders.publish(HostAndPort.fromParts("127.0.0.1", Servers.port(orders1)));
    orders.publish(HostAndPort.fromParts("127.0.0.1", Servers.port(orders2)));
    billing.publish(HostAndPort.fromParts("127.0.0.1", Servers.port(servers.netty("billing-1", 0))));
    Injector injector = Guice.createInjector(new AppModule(orders, billing));

    Checkout checkout = injector.getInstance(Checkout.class);
    assertEquals("orders-1: book / billing-1: book", checkout.checkout("book"));

    PersistentConnection<HostAndPort, GrpcConnection<HostAndPort>> ordersConnection =
        injector.getInstance(
            com.google.inject.Key.get(
                new TypeLiteral<PersistentConnection<HostAndPort, GrpcConnection<HostAndPort>>>() {},
                Names.named("orders")));
    GrpcConnection<HostAndPort> first = ordersConnection.connected().get(10, TimeUnit.SECONDS);
    orders.withdraw(first.address());
    orders1.shutdownNow();
    first.closeFinished().get(10, TimeUnit.SECONDS);
    assertEquals("orders-2: lamp / billing-1: lamp", checkout.checkout("lamp"));

    ConnectionRegistry registry = injector.getInstance(ConnectionRegistry.class);
    Map<String, PersistentConnection<?, ?>> made = registry.connections();
    assertEquals(java.util.Set.of("orders", "billing"), made.keySet());
    GrpcConnection<HostAndPort> second = ordersConnection.connected().get(10, TimeUnit.SECONDS);
    registry.closeAll().get(10, TimeUnit.SECONDS);
    for (PersistentConnection<?, ?> connection : made.values()) {
      assertTrue(connection.isClosed());
      assertTrue(connection.currentConnection() == null);
    }
    assertTrue(second.channel().isTerminated());
  }
}
