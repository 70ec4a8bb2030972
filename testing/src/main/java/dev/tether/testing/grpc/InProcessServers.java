package dev.tether.testing.grpc;

import static java.util.Objects.requireNonNull;

import com.google.common.collect.ImmutableList;
import dev.tether.grpc.ChannelFactory;
import io.grpc.BindableService;
import io.grpc.ServerServiceDefinition;
import io.grpc.inprocess.InProcessServerBuilder;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * A JUnit 5 extension that runs in-process gRPC servers for a test and stops every one after it.
 *
 * <pre>{@code
 * @RegisterExtension final InProcessServers servers = InProcessServers.create();
 *
 * @Test
 * void reconnectsWhenTheServerComesBack() throws Exception {
 *   InProcessServer orders = servers.start("orders", new OrdersService());
 *   PersistentConnection<String, GrpcConnection<String>> connection =
 *       GrpcConnector.persistentConnection("orders", InProcessServers.channels())
 *           .addressLookup(orders.lookup())
 *           .build();
 *   ...
 *   orders.kill();      // the client sees a drop
 *   orders.restart();   // and reconnects
 * }
 * }</pre>
 *
 * <p>Servers run their calls on the thread that delivers them ({@code directExecutor()}), which
 * keeps tests deterministic; a service that blocks should hand its work to an executor of its own.
 * Use it as an instance field with {@code @RegisterExtension}: each test gets its own servers.
 */
public final class InProcessServers implements AfterEachCallback {
  private final List<InProcessServer> servers = new ArrayList<>();

  private InProcessServers() {}

  /** Returns a new extension; register it with {@code @RegisterExtension}. */
  public static InProcessServers create() {
    return new InProcessServers();
  }

  /** The channel factory for in-process servers: looked-up addresses are server names. */
  public static ChannelFactory<String> channels() {
    return ChannelFactory.inProcess();
  }

  /**
   * Starts a server called {@code name} with {@code services}.
   *
   * @throws IllegalStateException if a running server already has that name
   */
  public InProcessServer start(String name, ServerServiceDefinition... services) {
    requireNonNull(name, "name");
    InProcessServer server = new InProcessServer(name, ImmutableList.copyOf(services));
    try {
      server.restart();
    } catch (java.io.UncheckedIOException e) {
      // gRPC refuses a second in-process server of a name ("name already registered").
      throw new IllegalStateException(
          "in-process server " + name + " did not start: is a running server already called that?",
          e.getCause());
    }
    synchronized (this) {
      servers.add(server);
    }
    return server;
  }

  /** Starts a server called {@code name} with one service. */
  public InProcessServer start(String name, BindableService service) {
    return start(name, requireNonNull(service, "service").bindService());
  }

  /** Starts a server with a unique generated name. */
  public InProcessServer start(ServerServiceDefinition... services) {
    return start(InProcessServerBuilder.generateName(), services);
  }

  @Override
  public void afterEach(ExtensionContext context) throws InterruptedException {
    List<InProcessServer> toStop;
    synchronized (this) {
      toStop = new ArrayList<>(servers);
      servers.clear();
    }
    for (InProcessServer server : toStop) {
      server.kill();
    }
    for (InProcessServer server : toStop) {
      server.awaitTermination(10, TimeUnit.SECONDS);
    }
  }
}
