package dev.tether.benchmarks;

import com.google.common.net.HostAndPort;
import dev.tether.grpc.Echo;
import io.grpc.InsecureServerCredentials;
import io.grpc.Server;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.concurrent.TimeUnit;
import org.jspecify.annotations.Nullable;

/** An echo server on 127.0.0.1 that keeps its port across kills and restarts. */
final class Replica {
  final String id;
  private int port;
  private @Nullable Server server;

  Replica(String id) {
    this.id = id;
    start();
  }

  HostAndPort address() {
    return HostAndPort.fromParts("127.0.0.1", port);
  }

  int port() {
    return port;
  }

  synchronized void start() {
    try {
      InetAddress loopback = InetAddress.getByAddress(new byte[] {127, 0, 0, 1});
      Server started =
          NettyServerBuilder.forAddress(
                  new InetSocketAddress(loopback, port), InsecureServerCredentials.create())
              .addService(Echo.service(id))
              .permitKeepAliveTime(1, TimeUnit.SECONDS) // clients that use keepalive (the soak)
              .permitKeepAliveWithoutCalls(true)
              .build()
              .start();
      port = ((InetSocketAddress) started.getListenSockets().get(0)).getPort();
      server = started;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Kills the server at once (shutdownNow) and waits until its port is free. */
  synchronized void kill() throws InterruptedException {
    Server running = server;
    if (running != null) {
      running.shutdownNow();
      running.awaitTermination(10, TimeUnit.SECONDS);
      server = null;
    }
  }

  /** Shuts the server down gracefully: calls in flight finish; waits until it has terminated. */
  synchronized void stopGracefully() throws InterruptedException {
    Server running = server;
    if (running != null) {
      running.shutdown();
      running.awaitTermination(30, TimeUnit.SECONDS);
      server = null;
    }
  }
}
