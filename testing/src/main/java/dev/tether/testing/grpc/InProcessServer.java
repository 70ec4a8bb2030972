package dev.tether.testing.grpc;

import com.google.common.collect.ImmutableList;
import com.google.common.util.concurrent.Futures;
import dev.tether.AddressLookup;
import io.grpc.Server;
import io.grpc.ServerServiceDefinition;
import io.grpc.inprocess.InProcessServerBuilder;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.concurrent.TimeUnit;
import org.jspecify.annotations.Nullable;

/**
 * One in-process gRPC server of an {@link InProcessServers} extension: a name and its services,
 * which a test can stop, kill, restart and make refuse connections. Thread-safe.
 *
 * <p>What a client sees: while the server runs, connects succeed. {@link #stop()} and {@link
 * #kill()} make every connected client see a drop (its channel leaves READY); after either,
 * connection attempts fail with "Could not find server" until {@link #restart()}.
 */
public final class InProcessServer {
  private final String name;
  private final ImmutableList<ServerServiceDefinition> services;
  private @Nullable Server server; // guarded by this

  InProcessServer(String name, ImmutableList<ServerServiceDefinition> services) {
    this.name = name;
    this.services = services;
  }

  /** Returns the server's name, the address an in-process channel connects to. */
  public String name() {
    return name;
  }

  /** Returns a lookup that always answers this server's name. */
  public AddressLookup<String> lookup() {
    return () -> Futures.immediateFuture(name);
  }

  /** Returns whether the server is running. */
  public synchronized boolean isRunning() {
    return server != null && !server.isShutdown();
  }

  /**
   * Shuts the server down gracefully: calls already running may finish, connected clients see a
   * drop at once, and new connections are refused until {@link #restart()}.
   */
  public synchronized void stop() {
    if (server != null) {
      server.shutdown();
    }
  }

  /** Shuts the server down at once, cancelling running calls; connections are refused after. */
  public synchronized void kill() {
    if (server != null) {
      server.shutdownNow();
    }
  }

  /**
   * Makes connection attempts fail, as a dead host would: the server is killed if it runs, and
   * stays away until {@link #restart()}.
   */
  public void refuseConnections() {
    kill();
  }

  /**
   * Starts the server again under the same name with the same services, killing it first if it
   * runs.
   *
   * @throws UncheckedIOException if the server cannot start
   */
  public synchronized void restart() {
    Server previous = server;
    if (previous != null) {
      previous.shutdownNow();
      awaitQuietly(previous);
    }
    InProcessServerBuilder builder = InProcessServerBuilder.forName(name).directExecutor();
    services.forEach(builder::addService);
    try {
      server = builder.build().start();
    } catch (IOException e) {
      throw new UncheckedIOException("in-process server " + name + " did not start", e);
    }
  }

  synchronized void awaitTermination(long timeout, TimeUnit unit) throws InterruptedException {
    if (server != null) {
      server.awaitTermination(timeout, unit);
    }
  }

  private static void awaitQuietly(Server server) {
    try {
      server.awaitTermination(10, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  @Override
  public String toString() {
    return "InProcessServer[" + name + (isRunning() ? ", running]" : ", stopped]");
  }
}
