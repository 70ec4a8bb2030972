package dev.tether.grpc;

import static java.util.Objects.requireNonNull;

import com.google.common.net.HostAndPort;
import com.google.common.net.InetAddresses;
import io.grpc.InsecureChannelCredentials;
import io.grpc.inprocess.InProcessChannelBuilder;
import java.net.InetSocketAddress;
import java.net.Proxy;
import java.net.ProxySelector;
import java.net.URI;
import java.net.URISyntaxException;
import org.jspecify.annotations.Nullable;

/**
 * The stateless ready-made channel factories, made once: every call of {@link
 * ChannelFactory#plaintext()} or {@link ChannelFactory#inProcess()} returns the same instance, so
 * two declarations that use them compare equal.
 */
final class Factories {
  private Factories() {}

  static final ChannelFactory<HostAndPort> PLAINTEXT =
      ChannelFactory.netty(InsecureChannelCredentials.create());

  static final ChannelFactory<String> IN_PROCESS =
      name -> InProcessChannelBuilder.forName(requireNonNull(name, "name"));

  /**
   * The socket address of an IP literal that needs no name resolution: null for a host name, a
   * scoped IPv6 literal, or an address that a proxy is configured for (gRPC's resolver applies
   * the proxy; a direct address would bypass it).
   */
  static @Nullable InetSocketAddress directAddress(String host, int port) {
    if (!InetAddresses.isInetAddress(host) || host.contains("%")) {
      return null;
    }
    InetSocketAddress address = new InetSocketAddress(InetAddresses.forString(host), port);
    return proxied(address) ? null : address;
  }

  private static boolean proxied(InetSocketAddress address) {
    if (System.getenv("GRPC_PROXY_EXP") != null) {
      return true;
    }
    ProxySelector selector = ProxySelector.getDefault();
    if (selector == null) {
      return false;
    }
    try {
      URI uri = new URI("https", null, address.getHostString(), address.getPort(), null, null, null);
      return selector.select(uri).stream().anyMatch(p -> p.type() != Proxy.Type.DIRECT);
    } catch (URISyntaxException | RuntimeException e) {
      return true; // cannot tell: let gRPC's resolver decide, as before
    }
  }
}
