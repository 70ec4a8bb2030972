package dev.tether.guice;

import static com.google.common.base.Preconditions.checkArgument;
import static java.util.Objects.requireNonNull;

import com.google.common.net.HostAndPort;
import dev.tether.AddressLookup;
import dev.tether.zookeeper.ZooKeeperCatalog;
import jakarta.inject.Inject;
import jakarta.inject.Provider;
import org.jspecify.annotations.Nullable;

/**
 * The lookup of a service in the {@link ZooKeeperCatalog} bound in the injector, for {@link
 * GrpcConnectionModule.Builder#lookup(Provider)}:
 *
 * <pre>{@code
 * GrpcConnectionModule.builder("orders", HostAndPort.class, ChannelFactory.plaintext())
 *     .lookup(CatalogLookup.of("orders"))
 *     .build();
 * }</pre>
 *
 * Guice injects the catalog when the injector is created; each persistent connection gets a
 * lookup of its own. Needs {@code tether-zookeeper} on the class path (an optional dependency of
 * this module).
 */
public final class CatalogLookup implements Provider<AddressLookup<HostAndPort>> {
  private final String service;
  @Inject @Nullable ZooKeeperCatalog catalog;

  private CatalogLookup(String service) {
    this.service = service;
  }

  /**
   * Returns a provider of lookups of {@code service}.
   *
   * @throws NullPointerException if {@code service} is null
   * @throws IllegalArgumentException if {@code service} is blank
   */
  public static CatalogLookup of(String service) {
    requireNonNull(service, "service");
    checkArgument(!service.isBlank(), "service must not be blank");
    return new CatalogLookup(service);
  }

  @Override
  public AddressLookup<HostAndPort> get() {
    ZooKeeperCatalog injected = catalog;
    if (injected == null) {
      throw new IllegalStateException("no ZooKeeperCatalog was injected for " + service);
    }
    return injected.lookup(service);
  }

  @Override
  public String toString() {
    return "CatalogLookup[" + service + "]";
  }
}
