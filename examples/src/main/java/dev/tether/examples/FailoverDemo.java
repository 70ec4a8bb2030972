package dev.tether.examples;

import com.google.common.net.HostAndPort;
import dev.tether.Event;
import dev.tether.PersistentConnection;
import dev.tether.Subscription;
import dev.tether.grpc.ChannelFactory;
import dev.tether.grpc.GrpcConnection;
import dev.tether.grpc.GrpcConnector;
import dev.tether.grpc.PersistentChannel;
import dev.tether.zookeeper.Registration;
import dev.tether.zookeeper.ZooKeeperCatalog;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.InsecureServerCredentials;
import io.grpc.MethodDescriptor;
import io.grpc.Server;
import io.grpc.ServerServiceDefinition;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.ClientCalls;
import io.grpc.stub.ServerCalls;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.retry.RetryOneTime;
import org.apache.curator.test.TestingServer;
import org.jspecify.annotations.Nullable;

/**
 * Three loopback gRPC replicas register in a catalog on a real ZooKeeper (Curator's {@code
 * TestingServer}, started and stopped here); a client finds them through the catalog and calls
 * every 50 ms, fail-fast and wait-for-ready calls in turn, while a script kills the serving
 * replica abruptly (no deregistration: it stays listed, as after {@code kill -9}), brings it back,
 * then restarts all three one by one (deregister, wait, stop, start, register). Every event and
 * every call is printed as it happens, then the failed calls per phase. Runs about 25 seconds and
 * exits by itself.
 */
public final class FailoverDemo {
  private static final String SERVICE = "greeter";
  private static final Duration CALL_EVERY = Duration.ofMillis(50);
  private static final Duration CALL_DEADLINE = Duration.ofSeconds(1);

  private final long start = System.nanoTime();
  private @Nullable ZooKeeperCatalog catalog;
  private String phase = "start";
  private final Map<String, int[]> perPhase = new LinkedHashMap<>(); // phase -> {calls, failed}

  private FailoverDemo() {}

  public static void main(String[] args) throws Exception {
    new FailoverDemo().run();
  }

  // ---- the service: Hello answers with the name of the replica that served it ----

  private enum Utf8 implements MethodDescriptor.Marshaller<String> {
    INSTANCE;

    @Override
    public InputStream stream(String value) {
      return new ByteArrayInputStream(value.getBytes(StandardCharsets.UTF_8));
    }

    @Override
    public String parse(InputStream stream) {
      try {
        return new String(stream.readAllBytes(), StandardCharsets.UTF_8);
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
  }

  private static final MethodDescriptor<String, String> HELLO =
      MethodDescriptor.<String, String>newBuilder()
          .setType(MethodDescriptor.MethodType.UNARY)
          .setFullMethodName("demo.Greeter/Hello")
          .setRequestMarshaller(Utf8.INSTANCE)
          .setResponseMarshaller(Utf8.INSTANCE)
          .build();

  /** One replica: a Netty server on 127.0.0.1 that keeps its port across restarts. */
  private final class Replica {
    final String name;
    int port;
    @Nullable Server server;
    @Nullable Registration registration;

    Replica(String name) {
      this.name = name;
    }

    HostAndPort address() {
      return HostAndPort.fromParts("127.0.0.1", port);
    }

    void start() throws IOException {
      ServerServiceDefinition service =
          ServerServiceDefinition.builder("demo.Greeter")
              .addMethod(
                  HELLO,
                  ServerCalls.asyncUnaryCall(
                      (request, response) -> {
                        response.onNext(name);
                        response.onCompleted();
                      }))
              .build();
      InetAddress loopback = InetAddress.getByAddress(new byte[] {127, 0, 0, 1});
      Server started =
          NettyServerBuilder.forAddress(
                  new InetSocketAddress(loopback, port), InsecureServerCredentials.create())
              .addService(service)
              .build()
              .start();
      port = ((InetSocketAddress) started.getListenSockets().get(0)).getPort();
      server = started;
      say("script", "started " + name + " on " + address());
    }

    void register() {
      registration = requireCatalog().register(SERVICE, address());
      say("script", name + " registered in ZooKeeper");
    }

    void deregister() {
      Registration current = registration;
      if (current != null) {
        current.close();
        registration = null;
        say("script", name + " deregistered");
      }
    }

    /** Abruptly: no deregistration, so it stays listed until its ZooKeeper session would end. */
    void kill() throws InterruptedException {
      Server running = server;
      if (running != null) {
        running.shutdownNow();
        running.awaitTermination(5, TimeUnit.SECONDS);
      }
      say("script", "killed " + name + " abruptly; it is still listed in ZooKeeper");
    }

    /** Gracefully: calls in flight finish. */
    void stop() throws InterruptedException {
      Server running = server;
      if (running != null) {
        running.shutdown();
        running.awaitTermination(5, TimeUnit.SECONDS);
      }
      say("script", "stopped " + name + " gracefully");
    }
  }

  private ZooKeeperCatalog requireCatalog() {
    ZooKeeperCatalog current = catalog;
    if (current == null) {
      throw new IllegalStateException("no catalog yet");
    }
    return current;
  }

  // ---- the script and the client ----

  private void run() throws Exception {
    try (TestingServer zookeeper = new TestingServer(true);
        CuratorFramework curator =
            CuratorFrameworkFactory.newClient(zookeeper.getConnectString(), new RetryOneTime(200))) {
      curator.start();
      if (!curator.blockUntilConnected(10, TimeUnit.SECONDS)) {
        throw new IllegalStateException("could not connect to the embedded ZooKeeper");
      }
      say("script", "ZooKeeper is up on " + zookeeper.getConnectString());
      try (ZooKeeperCatalog zk = ZooKeeperCatalog.create(curator, "/services")) {
        catalog = zk;
        demo(zk);
      }
    }
  }

  private void demo(ZooKeeperCatalog zk) throws Exception {
    List<Replica> replicas = List.of(new Replica("A"), new Replica("B"), new Replica("C"));
    try {
      script(zk, replicas);
    } finally {
      for (Replica replica : replicas) {
        Server running = replica.server;
        if (running != null) {
          running.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        }
      }
    }
  }

  private void script(ZooKeeperCatalog zk, List<Replica> replicas) throws Exception {
    for (Replica replica : replicas) {
      replica.start();
      replica.register();
    }

    PersistentConnection<HostAndPort, GrpcConnection<HostAndPort>> connection =
        GrpcConnector.persistentConnection(SERVICE, ChannelFactory.plaintext())
            .addressLookup(zk.lookup(SERVICE)) // each attempt asks the catalog again
            .retryDelay(Duration.ofMillis(500))
            .onEvent(event -> say("event", describe(event)))
            .build();
    Subscription moves = zk.followMoves(SERVICE, connection); // a replica that leaves: handOver()
    Channel channel = PersistentChannel.of(connection);
    connection.connected().get(10, TimeUnit.SECONDS);

    phase = "steady";
    callFor(channel, Duration.ofSeconds(3));

    phase = "abrupt kill";
    Replica serving = servingReplica(connection, replicas);
    serving.kill();
    callFor(channel, Duration.ofSeconds(3));
    serving.deregister(); // in real life, ZooKeeper drops it when the dead process's session ends
    serving.start();
    serving.register();
    callFor(channel, Duration.ofSeconds(2));

    phase = "rolling restart";
    for (Replica replica : replicas) {
      replica.deregister(); // clients on it hand over to another
      callFor(channel, Duration.ofSeconds(1));
      replica.stop();
      replica.start();
      replica.register();
      callFor(channel, Duration.ofSeconds(1));
    }
    phase = "steady again";
    callFor(channel, Duration.ofSeconds(2));

    moves.close();
    connection.close().get(10, TimeUnit.SECONDS);
    for (Replica replica : replicas) {
      replica.deregister();
    }
    System.out.println();
    System.out.println("Summary: failed calls per phase (fail-fast and wait-for-ready calls in turn)");
    perPhase.forEach(
        (name, counts) ->
            System.out.printf(Locale.ROOT, "  %-16s %4d calls, %3d failed%n", name, counts[0], counts[1]));
  }

  private Replica servingReplica(
      PersistentConnection<HostAndPort, GrpcConnection<HostAndPort>> connection,
      List<Replica> replicas) {
    HostAndPort current = connection.state().address();
    for (Replica replica : replicas) {
      if (replica.address().equals(current)) {
        return replica;
      }
    }
    return replicas.get(0);
  }

  /** Calls every 50 ms for {@code period}, fail-fast and wait-for-ready calls in turn. */
  private void callFor(Channel channel, Duration period) throws InterruptedException {
    long end = System.nanoTime() + period.toNanos();
    while (System.nanoTime() < end) {
      int[] counts = perPhase.computeIfAbsent(phase, p -> new int[2]);
      boolean waitForReady = counts[0]++ % 2 == 1;
      CallOptions options =
          CallOptions.DEFAULT.withDeadlineAfter(CALL_DEADLINE.toMillis(), TimeUnit.MILLISECONDS);
      String kind = waitForReady ? "wait-for-ready" : "fail-fast";
      long began = System.nanoTime();
      try {
        String replica =
            ClientCalls.blockingUnaryCall(
                channel, HELLO, waitForReady ? options.withWaitForReady() : options, "hello");
        say("call", String.format(
            Locale.ROOT, "%-14s ok from %s in %d ms", kind, replica, millis(System.nanoTime() - began)));
      } catch (StatusRuntimeException e) {
        counts[1]++;
        Status status = e.getStatus();
        say("call", kind + " FAILED " + status.getCode() + ": " + status.getDescription());
      }
      Thread.sleep(CALL_EVERY.toMillis()); // the demo's own pacing
    }
  }

  private static String describe(Event<HostAndPort, GrpcConnection<HostAndPort>> event) {
    if (event instanceof Event.ObtainedAddress<HostAndPort, GrpcConnection<HostAndPort>> obtained) {
      return "ObtainedAddress " + obtained.address();
    } else if (event instanceof Event.FailedToConnect<HostAndPort, GrpcConnection<HostAndPort>> failed) {
      return "FailedToConnect " + failed.error().getMessage();
    } else if (event instanceof Event.Connected<HostAndPort, GrpcConnection<HostAndPort>> connected) {
      return "Connected to " + connected.connection().address();
    } else if (event instanceof Event.Disconnected) {
      return "Disconnected";
    }
    return "AttemptingToConnect";
  }

  private static long millis(long nanos) {
    return TimeUnit.NANOSECONDS.toMillis(nanos);
  }

  private void say(String kind, String text) {
    System.out.printf(
        Locale.ROOT, "%7.3fs  %-6s [%s] %s%n", (System.nanoTime() - start) / 1e9, kind, phase, text);
  }
}
