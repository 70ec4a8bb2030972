package dev.tether.grpc;

import dev.tether.testsupport.LoopbackPorts;
import io.grpc.Server;
import io.grpc.ServerCredentials;
import io.grpc.InsecureServerCredentials;
import io.grpc.inprocess.InProcessServerBuilder;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * Starts echo servers for a test, in-process or Netty on 127.0.0.1, and stops every one after
 * it. Register with {@code @RegisterExtension}.
 */
public final class Servers implements AfterEachCallback {
  static final InetAddress LOOPBACK = loopback();

  private final List<Server> servers = new ArrayList<>();

  private static InetAddress loopback() {
    try {
      return InetAddress.getByAddress(new byte[] {127, 0, 0, 1});
    } catch (java.net.UnknownHostException e) {
      throw new AssertionError(e);
    }
  }

  public synchronized Server inProcess(String name) {
    return track(
        InProcessServerBuilder.forName(name).directExecutor().addService(Echo.service(name)));
  }

  /** An in-process echo server whose calls go through {@code interceptor}. */
  synchronized Server inProcess(String name, io.grpc.ServerInterceptor interceptor) {
    return track(
        InProcessServerBuilder.forName(name)
            .directExecutor()
            .addService(Echo.service(name))
            .intercept(interceptor));
  }

  /**
   * Starts a plaintext Netty server on 127.0.0.1; {@code port} 0 picks a free one below the
   * ephemeral range ({@link dev.tether.testsupport.LoopbackPorts}), so that the server can be
   * started again on its port after it stopped.
   */
  public Server netty(String id, int port) {
    return netty(id, port, InsecureServerCredentials.create(), UnaryOperator.identity());
  }

  synchronized Server netty(
      String id,
      int port,
      ServerCredentials credentials,
      UnaryOperator<NettyServerBuilder> customizer) {
    if (port != 0) {
      return track(nettyBuilder(id, port, credentials, customizer));
    }
    List<UncheckedIOException> taken = new ArrayList<>();
    while (true) {
      try {
        return track(nettyBuilder(id, LoopbackPorts.free(), credentials, customizer));
      } catch (UncheckedIOException e) {
        if (!isBindFailure(e) || taken.size() == 9) { // only a port taken since it was found free
          taken.forEach(e::addSuppressed);
          throw e;
        }
        taken.add(e);
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
  }

  private static boolean isBindFailure(Throwable failure) {
    for (@org.jspecify.annotations.Nullable Throwable t = failure; t != null; t = t.getCause()) {
      if (t instanceof java.net.BindException) {
        return true;
      }
    }
    return false;
  }

  private static NettyServerBuilder nettyBuilder(
      String id,
      int port,
      ServerCredentials credentials,
      UnaryOperator<NettyServerBuilder> customizer) {
    return customizer.apply(
        NettyServerBuilder.forAddress(new InetSocketAddress(LOOPBACK, port), credentials)
            .addService(Echo.service(id)));
  }

  /** Starts a server from {@code builder} and stops it after the test. */
  synchronized Server track(io.grpc.ServerBuilder<?> builder) {
    try {
      Server server = builder.build().start();
      servers.add(server);
      return server;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /**
   * Stops {@code server} now and waits for it to terminate; it is then no longer kept for the
   * end of the test (a test that starts thousands of servers keeps only the running ones).
   */
  void stop(Server server) throws InterruptedException {
    server.shutdownNow();
    if (!server.awaitTermination(10, TimeUnit.SECONDS)) {
      throw new AssertionError(server + " did not terminate");
    }
    synchronized (this) {
      servers.remove(server);
    }
  }

  /** The loopback address and port of a server this class started on Netty. */
  public static com.google.common.net.HostAndPort address(Server server) {
    return com.google.common.net.HostAndPort.fromParts("127.0.0.1", port(server));
  }

  public static int port(Server server) {
    return ((InetSocketAddress) server.getListenSockets().get(0)).getPort();
  }

  @Override
  public synchronized void afterEach(@org.jspecify.annotations.Nullable ExtensionContext context) throws InterruptedException {
    for (Server server : servers) {
      server.shutdownNow();
    }
    for (Server server : servers) {
      server.awaitTermination(10, TimeUnit.SECONDS);
    }
    servers.clear();
  }
}
