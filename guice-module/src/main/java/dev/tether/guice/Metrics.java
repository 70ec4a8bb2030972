package dev.tether.guice;

import com.google.inject.Binder;
import com.google.inject.Provider;
import dev.tether.PersistentConnection;
import dev.tether.Subscription;
import dev.tether.micrometer.TetherMetrics;
import io.micrometer.core.instrument.MeterRegistry;

/**
 * The meters of the named connections of one injector, in its {@link MeterRegistry}. Loaded only
 * for a module that asks for metrics, so that applications without Micrometer never need it.
 */
final class Metrics {
  private final Provider<MeterRegistry> registry;

  private Metrics(Provider<MeterRegistry> registry) {
    this.registry = registry;
  }

  /** Requires a binding of {@link MeterRegistry}: injector creation fails without one. */
  static Metrics require(Binder binder) {
    // Loads tether-micrometer now, so that its absence shows at injector creation.
    java.util.Objects.requireNonNull(TetherMetrics.class, "tether-micrometer");
    return new Metrics(binder.getProvider(MeterRegistry.class));
  }

  /** Binds the meters of {@code connection}; closing the subscription removes them. */
  Subscription bind(PersistentConnection<?, ?> connection) {
    return TetherMetrics.bind(connection, registry.get());
  }
}
