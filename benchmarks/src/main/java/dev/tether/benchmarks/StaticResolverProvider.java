package dev.tether.benchmarks;

import com.google.common.net.HostAndPort;
import io.grpc.EquivalentAddressGroup;
import io.grpc.NameResolver;
import io.grpc.NameResolverProvider;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.URI;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * Resolves {@code tether-static:///host:port,host:port} to those addresses, so that a plain
 * grpc-java channel can be given several replicas for pick_first.
 */
final class StaticResolverProvider extends NameResolverProvider {
  static final String SCHEME = "tether-static";

  private static final java.util.concurrent.atomic.AtomicBoolean INSTALLED =
      new java.util.concurrent.atomic.AtomicBoolean();

  /** Registers the provider with gRPC, once per JVM. */
  static void install() {
    if (INSTALLED.compareAndSet(false, true)) {
      io.grpc.NameResolverRegistry.getDefaultRegistry().register(new StaticResolverProvider());
    }
  }

  static String target(List<HostAndPort> addresses) {
    StringBuilder target = new StringBuilder(SCHEME + ":///");
    for (int i = 0; i < addresses.size(); i++) {
      target.append(i == 0 ? "" : ",").append(addresses.get(i));
    }
    return target.toString();
  }

  @Override
  protected boolean isAvailable() {
    return true;
  }

  @Override
  protected int priority() {
    return 5;
  }

  @Override
  public String getDefaultScheme() {
    return SCHEME;
  }

  @Override
  public Collection<Class<? extends SocketAddress>> getProducedSocketAddressTypes() {
    return List.of(InetSocketAddress.class);
  }

  @Override
  public @Nullable NameResolver newNameResolver(URI uri, NameResolver.Args args) {
    if (!SCHEME.equals(uri.getScheme())) {
      return null;
    }
    List<EquivalentAddressGroup> groups = new ArrayList<>();
    for (String part : uri.getPath().substring(1).split(",")) {
      HostAndPort address = HostAndPort.fromString(part);
      groups.add(
          new EquivalentAddressGroup(
              new InetSocketAddress(address.getHost(), address.getPort())));
    }
    return new NameResolver() {
      @Override
      public String getServiceAuthority() {
        return "replicas";
      }

      @Override
      public void start(Listener2 listener) {
        listener.onResult(ResolutionResult.newBuilder().setAddresses(groups).build());
      }

      @Override
      public void shutdown() {}
    };
  }
}
