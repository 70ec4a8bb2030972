package dev.tether.guice;

import static com.google.common.base.Preconditions.checkState;
import static java.util.Objects.requireNonNull;

import com.google.common.collect.ImmutableList;
import com.google.common.util.concurrent.ListenableFuture;
import com.google.inject.AbstractModule;
import com.google.inject.Binder;
import com.google.inject.Binding;
import com.google.inject.Injector;
import com.google.inject.Key;
import com.google.inject.Provider;
import com.google.inject.Singleton;
import com.google.inject.TypeLiteral;
import com.google.inject.name.Names;
import com.google.inject.util.Types;
import dev.tether.AddressLookup;
import dev.tether.EventListener;
import dev.tether.PersistentConnection;
import dev.tether.ReconnectBudget;
import dev.tether.RetryDelay;
import dev.tether.Subscription;
import dev.tether.grpc.ChannelFactory;
import dev.tether.grpc.GrpcConnection;
import dev.tether.grpc.GrpcConnector;
import dev.tether.grpc.PersistentChannel;
import io.grpc.Channel;
import java.lang.reflect.Type;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.function.Consumer;
import org.jspecify.annotations.Nullable;

/**
 * Declares one named persistent gRPC connection in Guice.
 *
 * <pre>{@code
 * install(GrpcConnectionModule.builder("orders", HostAndPort.class, ChannelFactory.plaintext())
 *     .lookup(CatalogLookup.of("orders"))     // from the ZooKeeperCatalog bound in Guice
 *     .retryDelay(Duration.ofSeconds(1))
 *     .build());
 *
 * final class OrdersClient {
 *   private final OrdersGrpc.OrdersBlockingStub stub;
 *
 *   @Inject
 *   OrdersClient(@Named("orders") Channel channel) {
 *     stub = OrdersGrpc.newBlockingStub(channel);
 *   }
 * }
 * }</pre>
 *
 * <p>For a connection named {@code "orders"} with address type {@code A}, the module binds these
 * keys, each a singleton, with {@code @Named("orders")} (Guice treats {@code
 * com.google.inject.name.Named} and {@code jakarta.inject.Named} alike):
 *
 * <ul>
 *   <li>{@code PersistentConnection<A, GrpcConnection<A>>}, and the same as {@code
 *       PersistentConnection<?, ?>};
 *   <li>{@code PersistentChannel}, and the same as {@code io.grpc.Channel}: the channel that
 *       follows the connection, so stubs are built once.
 * </ul>
 *
 * <p>The address lookup comes from Guice: a class ({@link Builder#lookup(Class)}), a key ({@link
 * Builder#lookup(Key)}) or a provider ({@link Builder#lookup(jakarta.inject.Provider)}); without
 * one, from the binding of {@code @Named("orders") AddressLookup<A>}. The lookup is obtained once,
 * when the connection is made, and asked for an address on every attempt.
 *
 * <p>A connection starts connecting when it is first provisioned, or at injector creation in
 * {@link com.google.inject.Stage#PRODUCTION}. Every connection made is listed in the injector's
 * {@link ConnectionRegistry}, which closes them all.
 *
 * <p>Misconfiguration fails at injector creation with a message that names the connection: a blank
 * name, a lookup that is not bound or cannot be built, two different declarations of one name.
 * Installing the same module instance twice is harmless.
 *
 * @param <A> the address type
 */
public final class GrpcConnectionModule<A> extends AbstractModule {
  private final String name;
  private final TypeLiteral<A> addressType;
  private final GrpcConnector<A> connector;
  private final @Nullable Key<? extends AddressLookup<A>> lookupKey;
  private final jakarta.inject.@Nullable Provider<? extends AddressLookup<A>> lookupProvider;
  private final @Nullable RetryDelay retryDelay;
  private final @Nullable Boolean randomize;
  private final ImmutableList<EventListener<A, GrpcConnection<A>>> listeners;
  private final @Nullable Consumer<? super PersistentConnection.Builder<A, GrpcConnection<A>>> customizer;
  private final boolean metrics;

  private GrpcConnectionModule(Builder<A> builder) {
    this.name = builder.name;
    this.addressType = builder.addressType;
    this.connector = builder.connector.build();
    this.lookupKey = builder.lookupKey;
    this.lookupProvider = builder.lookupProvider;
    this.retryDelay = builder.retryDelay;
    this.randomize = builder.randomize;
    this.listeners = ImmutableList.copyOf(builder.listeners);
    this.customizer = builder.customizer;
    this.metrics = builder.metrics;
  }

  /**
   * Starts declaring a connection called {@code name} to addresses of type {@code addressType},
   * connected through channels from {@code channels}.
   *
   * @throws NullPointerException if an argument is null (a blank name fails at injector creation)
   */
  public static <A> Builder<A> builder(
      String name, Class<A> addressType, ChannelFactory<A> channels) {
    return builder(name, TypeLiteral.get(requireNonNull(addressType, "addressType")), channels);
  }

  /** Like {@link #builder(String, Class, ChannelFactory)}, for a generic address type. */
  public static <A> Builder<A> builder(
      String name, TypeLiteral<A> addressType, ChannelFactory<A> channels) {
    return new Builder<>(name, addressType, channels);
  }

  /** Returns the name of the connection this module declares. */
  public String name() {
    return name;
  }

  /** Returns the key of the persistent connection this module binds. */
  @SuppressWarnings("unchecked") // the type is built from A
  public Key<PersistentConnection<A, GrpcConnection<A>>> connectionKey() {
    Type connection = Types.newParameterizedType(GrpcConnection.class, addressType.getType());
    Type persistent =
        Types.newParameterizedType(PersistentConnection.class, addressType.getType(), connection);
    return (Key<PersistentConnection<A, GrpcConnection<A>>>) Key.get(persistent, Names.named(name));
  }

  @Override
  protected void configure() {
    Binder binder = binder().withSource("persistent connection \"" + name + "\"");
    if (name.isBlank()) {
      binder.addError("A persistent connection needs a name that is not blank, not \"%s\"", name);
      return;
    }
    Provider<? extends AddressLookup<A>> lookup = lookupProvider(binder);
    Key<PersistentConnection<A, GrpcConnection<A>>> key = connectionKey();
    // The budget the application bound, if any, in this injector or an ancestor: looked up, not
    // bound here, so that a child injector may declare connections as well as its parent.
    Provider<Injector> injector = binder.getProvider(Injector.class);
    Provider<Optional<ReconnectBudget>> budget = () -> boundBudget(injector.get());
    // Only with metrics(): tether-micrometer and Micrometer are optional dependencies.
    @Nullable Metrics meters = null;
    if (metrics) {
      try {
        meters = Metrics.require(binder);
      } catch (NoClassDefFoundError e) {
        binder.addError(
            "persistent connection \"%s\": metrics() needs tether-micrometer on the classpath (%s)",
            name,
            e.getMessage());
      }
    }
    if (customizer != null) {
      binder.requestInjection(new TrialRun()); // at injector creation, with the bound budget
    }
    binder
        .bind(key)
        .toProvider(
            new ConnectionProvider(
                lookup, binder.getProvider(ConnectionRegistry.class), budget, meters))
        .in(Singleton.class);
    binder.bind(Key.get(new TypeLiteral<PersistentConnection<?, ?>>() {}, Names.named(name))).to(key);
    Provider<PersistentConnection<A, GrpcConnection<A>>> connection = binder.getProvider(key);
    Key<PersistentChannel> channelKey = Key.get(PersistentChannel.class, Names.named(name));
    binder.bind(channelKey).toProvider(() -> PersistentChannel.of(connection.get())).in(Singleton.class);
    binder.bind(Key.get(Channel.class, Names.named(name))).to(channelKey);
  }

  @SuppressWarnings("unchecked") // the key is built from A
  private Provider<? extends AddressLookup<A>> lookupProvider(Binder binder) {
    jakarta.inject.Provider<? extends AddressLookup<A>> provider = lookupProvider;
    if (provider != null) {
      binder.requestInjection(provider);
      return provider::get;
    }
    Key<? extends AddressLookup<A>> key = lookupKey;
    if (key == null) {
      Type lookupType = Types.newParameterizedType(AddressLookup.class, addressType.getType());
      key = (Key<? extends AddressLookup<A>>) Key.get(lookupType, Names.named(name));
    }
    return binder.getProvider(key);
  }

  /**
   * Sets this module's options on {@code builder}, the budget bound in Guice (if any), then the
   * application's customizer, whose errors name the connection.
   */
  private PersistentConnection.Builder<A, GrpcConnection<A>> configured(
      PersistentConnection.Builder<A, GrpcConnection<A>> builder, Optional<ReconnectBudget> budget) {
    if (retryDelay != null) {
      builder.retryDelay(retryDelay);
    }
    if (randomize != null) {
      builder.randomizeRetryDelay(randomize);
    }
    listeners.forEach(builder::onEvent);
    budget.ifPresent(builder::reconnectBudget);
    Consumer<? super PersistentConnection.Builder<A, GrpcConnection<A>>> custom = customizer;
    if (custom != null) {
      try {
        custom.accept(builder);
      } catch (RuntimeException e) {
        throw new IllegalStateException(
            "persistent connection \"" + name + "\": its customizer failed: " + e.getMessage(), e);
      }
    }
    return builder;
  }

  /** A lookup for trial runs of the customizer, which build nothing: never asked. */
  private static <A> AddressLookup<A> trialLookup() {
    return () -> {
      throw new IllegalStateException("a trial run's lookup is never asked");
    };
  }

  /**
   * The customizer's trial run at injector creation, with the budget Guice binds and a lookup set
   * as the real run has them, on a builder that is dropped: a customizer that sets either again,
   * or fails, fails the injector's creation, naming the connection, rather than its first use.
   */
  private final class TrialRun {
    @jakarta.inject.Inject
    void run(Injector injector) {
      configured(
          connector.persistentConnection(name).addressLookup(trialLookup()), boundBudget(injector));
    }
  }

  /**
   * The {@link ReconnectBudget} bound in {@code injector} or one of its ancestors, as {@code
   * bind(ReconnectBudget.class).toInstance(...)} binds it; none if there is no such binding, or
   * it provides null. Connections share it if the binding gives one instance (an instance, a
   * singleton); an unscoped provider gives each its own.
   */
  private static Optional<ReconnectBudget> boundBudget(Injector injector) {
    Binding<ReconnectBudget> bound = injector.getExistingBinding(Key.get(ReconnectBudget.class));
    return bound == null ? Optional.empty() : Optional.ofNullable(bound.getProvider().get());
  }

  /** Makes the persistent connection when it is first provisioned. */
  private final class ConnectionProvider
      implements Provider<PersistentConnection<A, GrpcConnection<A>>> {
    private final Provider<? extends AddressLookup<A>> lookup;
    private final Provider<ConnectionRegistry> registry;
    private final Provider<Optional<ReconnectBudget>> budget;
    private final @Nullable Metrics metrics;

    ConnectionProvider(
        Provider<? extends AddressLookup<A>> lookup,
        Provider<ConnectionRegistry> registry,
        Provider<Optional<ReconnectBudget>> budget,
        @Nullable Metrics metrics) {
      this.lookup = lookup;
      this.registry = registry;
      this.budget = budget;
      this.metrics = metrics;
    }

    @Override
    public PersistentConnection<A, GrpcConnection<A>> get() {
      PersistentConnection.Builder<A, GrpcConnection<A>> builder =
          configured(connector.persistentConnection(name).addressLookup(lookup.get()), budget.get());
      PersistentConnection<A, GrpcConnection<A>> connection = builder.build();
      Metrics meters = metrics;
      Subscription bound = null;
      if (meters != null) {
        try {
          bound = meters.bind(connection);
        } catch (RuntimeException | LinkageError e) { // never leave it running unlisted
          ListenableFuture<Void> unused = connection.close();
          throw e;
        }
      }
      registry.get().register(name, connection, bound);
      return connection;
    }

    @Override
    public String toString() {
      return "persistent connection \"" + name + "\"";
    }
  }

  @Override
  public String toString() {
    return "GrpcConnectionModule[" + name + "]";
  }

  /**
   * Declares a connection. Options other than {@link #onEvent} may be set once; arguments are checked at once.
   *
   * @param <A> the address type
   */
  public static final class Builder<A> {
    private final String name;
    private final TypeLiteral<A> addressType;
    private final GrpcConnector.Builder<A> connector;
    private @Nullable Key<? extends AddressLookup<A>> lookupKey;
    private jakarta.inject.@Nullable Provider<? extends AddressLookup<A>> lookupProvider;
    private @Nullable RetryDelay retryDelay;
    private @Nullable Boolean randomize;
    private final List<EventListener<A, GrpcConnection<A>>> listeners = new ArrayList<>();
    private @Nullable Consumer<? super PersistentConnection.Builder<A, GrpcConnection<A>>> customizer;
    private boolean connectorSet;
    private boolean metrics;

    private Builder(String name, TypeLiteral<A> addressType, ChannelFactory<A> channels) {
      this.name = requireNonNull(name, "name");
      this.addressType = requireNonNull(addressType, "addressType");
      this.connector = GrpcConnector.builder(requireNonNull(channels, "channels"));
    }

    private void checkNoLookup() {
      checkState(
          lookupKey == null && lookupProvider == null,
          "persistent connection \"%s\": lookup was already set",
          name);
    }

    /** Takes the address lookup from Guice's binding of {@code type} (just-in-time if unbound). */
    public Builder<A> lookup(Class<? extends AddressLookup<A>> type) {
      return lookup(Key.get(requireNonNull(type, "type")));
    }

    /** Takes the address lookup from Guice's binding of {@code key}. */
    public Builder<A> lookup(Key<? extends AddressLookup<A>> key) {
      requireNonNull(key, "key");
      checkNoLookup();
      this.lookupKey = key;
      return this;
    }

    /**
     * Takes the address lookup from {@code provider}; Guice injects the provider's members
     * first, so it can use injected dependencies.
     */
    public Builder<A> lookup(jakarta.inject.Provider<? extends AddressLookup<A>> provider) {
      requireNonNull(provider, "provider");
      checkNoLookup();
      this.lookupProvider = provider;
      return this;
    }

    /** Sets the retry delay; see {@link PersistentConnection.Builder#retryDelay(RetryDelay)}. */
    public Builder<A> retryDelay(RetryDelay delay) {
      requireNonNull(delay, "delay");
      checkState(retryDelay == null, "persistent connection \"%s\": retryDelay was already set", name);
      this.retryDelay = delay;
      return this;
    }

    /** Sets a constant retry delay; see {@link PersistentConnection.Builder#retryDelay(Duration)}. */
    public Builder<A> retryDelay(Duration delay) {
      return retryDelay(RetryDelay.constant(delay));
    }

    /** See {@link PersistentConnection.Builder#randomizeRetryDelay(boolean)}. */
    public Builder<A> randomizeRetryDelay(boolean randomize) {
      checkState(
          this.randomize == null, "persistent connection \"%s\": randomizeRetryDelay was already set", name);
      this.randomize = randomize;
      return this;
    }

    /**
     * Sets the connector's options (connect timeout, shutdown grace, keepalive, channel
     * customizers) on its {@link GrpcConnector.Builder}, at once. Set once.
     *
     * <pre>{@code
     * .connector(c -> c.connectTimeout(Duration.ofSeconds(5)).keepAlive(...))
     * }</pre>
     */
    public Builder<A> connector(Consumer<? super GrpcConnector.Builder<A>> options) {
      requireNonNull(options, "options");
      checkState(!connectorSet, "persistent connection \"%s\": connector was already set", name);
      connectorSet = true;
      options.accept(connector);
      return this;
    }

    /**
     * Sets options of the persistent connection that this module has no method for (initializer,
     * standby, logger, scheduler, a budget of its own) on its {@link PersistentConnection.Builder},
     * after the module's own options and the {@link ReconnectBudget} bound in Guice, if any. Called
     * each time the connection is made, and once by {@link #build()} on a builder that is then
     * dropped, so that an option set twice fails there, naming the connection: it must only set
     * options. Must not set the address lookup or the connector. Set once.
     */
    public Builder<A> persistentConnection(
        Consumer<? super PersistentConnection.Builder<A, GrpcConnection<A>>> options) {
      requireNonNull(options, "options");
      checkState(
          customizer == null, "persistent connection \"%s\": persistentConnection was already set", name);
      customizer = options;
      return this;
    }

    /**
     * Binds the connection's meters (see {@code dev.tether.micrometer.TetherMetrics}) to the
     * injector's {@code io.micrometer.core.instrument.MeterRegistry}, which the application binds;
     * needs {@code tether-micrometer} on the classpath. Without a bound registry, injector
     * creation fails naming the connection. The meters are removed once {@link
     * ConnectionRegistry#closeAll()} has closed the connection. Meters are told apart by the
     * connection's name: two connections of one name with meters in one registry (say, sibling
     * child injectors sharing their parent's registry) are refused, the second failing to
     * provision with an error naming it.
     */
    public Builder<A> metrics() {
      checkState(!metrics, "persistent connection \"%s\": metrics was already set", name);
      metrics = true;
      return this;
    }

    /** Adds a listener of the connection's events; may be called several times. */
    public Builder<A> onEvent(EventListener<A, GrpcConnection<A>> listener) {
      listeners.add(requireNonNull(listener, "listener"));
      return this;
    }

    /**
     * Returns the module.
     *
     * @throws IllegalStateException naming the connection, if the {@linkplain #persistentConnection
     *     customizer} fails or sets an option twice
     */
    public GrpcConnectionModule<A> build() {
      GrpcConnectionModule<A> module = new GrpcConnectionModule<>(this);
      if (customizer != null) {
        // A trial run on a builder that is dropped, so that misconfiguration shows here.
        module.configured(
            module.connector.persistentConnection(name).addressLookup(trialLookup()),
            Optional.<ReconnectBudget>empty());
      }
      return module;
    }
  }
}
