package dev.tether.grpc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.common.net.HostAndPort;
import io.grpc.ManagedChannel;
import org.junit.jupiter.api.Test;

/** The ready-made factories: what each gives Netty. */
class ChannelFactoryTest {

  @Test
  void ipLiteral_goesToNettyResolved_withNoNameResolution() {
    ManagedChannel channel =
        ChannelFactory.plaintext().newChannelBuilder(HostAndPort.fromParts("127.0.0.1", 50051)).build();
    try {
      assertEquals("127.0.0.1:50051", channel.authority());
      assertTrue(channel.toString().contains("directaddress"), channel.toString());
    } finally {
      channel.shutdownNow();
    }
    ManagedChannel v6 =
        ChannelFactory.plaintext().newChannelBuilder(HostAndPort.fromParts("::1", 50051)).build();
    try {
      assertEquals("[::1]:50051", v6.authority());
      assertTrue(v6.toString().contains("directaddress"), v6.toString());
    } finally {
      v6.shutdownNow();
    }
  }

  @Test
  void hostName_isResolvedByTheChannel() {
    ManagedChannel channel =
        ChannelFactory.plaintext().newChannelBuilder(HostAndPort.fromParts("localhost", 50051)).build();
    try {
      assertEquals("localhost:50051", channel.authority());
      assertTrue(!channel.toString().contains("directaddress"), channel.toString());
    } finally {
      channel.shutdownNow();
    }
  }

  @Test
  void addressWithoutPort_failsNamingIt() {
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class,
            () -> ChannelFactory.plaintext().newChannelBuilder(HostAndPort.fromHost("10.0.0.7")));
    assertEquals("address 10.0.0.7 has no port", e.getMessage());
  }

  @Test
  void ipLiteralWithAProxyOrAScope_isLeftToGrpcsResolver() {
    java.net.ProxySelector before = java.net.ProxySelector.getDefault();
    java.net.ProxySelector.setDefault(
        new java.net.ProxySelector() {
          @Override
          public java.util.List<java.net.Proxy> select(java.net.URI uri) {
            return java.util.List.of(
                new java.net.Proxy(
                    java.net.Proxy.Type.HTTP, java.net.InetSocketAddress.createUnresolved("proxy", 3128)));
          }

          @Override
          public void connectFailed(
              java.net.URI uri, java.net.SocketAddress address, java.io.IOException e) {}
        });
    try {
      ManagedChannel proxied =
          ChannelFactory.plaintext().newChannelBuilder(HostAndPort.fromParts("10.0.0.7", 443)).build();
      try {
        assertTrue(!proxied.toString().contains("directaddress"), proxied.toString());
      } finally {
        proxied.shutdownNow();
      }
    } finally {
      java.net.ProxySelector.setDefault(before);
    }
  }
}
