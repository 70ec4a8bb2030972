package dev.tether.grpc;

import static com.google.common.base.Preconditions.checkArgument;
import static java.util.Objects.requireNonNull;

import com.google.common.net.HostAndPort;
import io.grpc.ChannelCredentials;
import io.grpc.Grpc;
import io.grpc.ManagedChannelBuilder;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import java.net.InetSocketAddress;

/**
 * Makes the builder of a new channel to an address that an {@link dev.tether.AddressLookup}
 * returned. {@link GrpcConnector} calls it once per connection attempt, then applies its own
 * settings (idle mode off, keepalive, the customizer) and builds the channel.
 *
 * <p>The ready-made factories cover Netty on TCP ({@link #plaintext()}, {@link
 * #netty(ChannelCredentials)}, {@link #socketAddress(ChannelCredentials)}), gRPC target strings
 * ({@link #target(ChannelCredentials)}) and in-process servers ({@link #inProcess()}). A factory
 * of your own may return any {@link ManagedChannelBuilder}.
 *
 * @param <A> the address type
 */
@FunctionalInterface
public interface ChannelFactory<A> {

  /** Returns a new channel builder for {@code address}. Must not return null. */
  ManagedChannelBuilder<?> newChannelBuilder(A address);

  /**
   * Netty channels without TLS to a host and port; the host is resolved again by each new
   * channel.
   *
   * @see #netty(ChannelCredentials)
   */
  static ChannelFactory<HostAndPort> plaintext() {
    return Factories.PLAINTEXT;
  }

  /**
   * Netty channels with {@code credentials} (for example {@code TlsChannelCredentials}) to a host
   * and port; a host name is resolved again by each new channel, while an IP literal ({@code
   * 10.0.0.7}, {@code ::1}) goes to Netty as it is, with no name resolution, which saves a
   * failover the resolver's thread hop (unless a proxy is configured for it, through the JVM's
   * {@code ProxySelector} or {@code GRPC_PROXY_EXP}, which gRPC's resolver applies; or it has a
   * scope, {@code fe80::1%eth0}). An address without a port fails the attempt with an
   * {@link IllegalArgumentException} naming it.
   */
  static ChannelFactory<HostAndPort> netty(ChannelCredentials credentials) {
    requireNonNull(credentials, "credentials");
    return address -> {
      requireNonNull(address, "address");
      checkArgument(address.hasPort(), "address %s has no port", address);
      String host = address.getHost();
      InetSocketAddress resolved = Factories.directAddress(host, address.getPort());
      if (resolved == null) {
        return NettyChannelBuilder.forAddress(host, address.getPort(), credentials);
      }
      // The authority as written ("[::1]:443"), as a resolved target would have it.
      return NettyChannelBuilder.forAddress(resolved, credentials)
          .overrideAuthority(address.toString());
    };
  }

  /**
   * Netty channels with {@code credentials} to an already resolved socket address, without any
   * name resolution.
   */
  static ChannelFactory<InetSocketAddress> socketAddress(ChannelCredentials credentials) {
    requireNonNull(credentials, "credentials");
    return address -> NettyChannelBuilder.forAddress(requireNonNull(address, "address"), credentials);
  }

  /** In-process channels to the in-process server registered under the looked-up name. */
  static ChannelFactory<String> inProcess() {
    return Factories.IN_PROCESS;
  }

  /**
   * Channels to gRPC target strings such as {@code "dns:///orders.internal:443"}, through the
   * transport that gRPC's provider registry picks (Netty, with grpc-netty-shaded).
   */
  static ChannelFactory<String> target(ChannelCredentials credentials) {
    requireNonNull(credentials, "credentials");
    return target -> Grpc.newChannelBuilder(requireNonNull(target, "target"), credentials);
  }
}
