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
import io.grpc.Server;
import io.grpc.ServerServiceDefinition;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.ClientCalls;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
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
 * then restarts all three one by one (deregister, wait, stop, start, register). The script's steps
 * and the connection's events are printed one per line as they happen; the calls, one character
 * each, on progress lines between them; then a table of the calls per phase. Runs about 25
 * seconds and exits by itself.
 */
public final class FailoverDemo {
  private static final String SERVICE = "greeter";
  private static final Duration CALL_EVERY = Duration.ofMillis(50);
  private static final Duration CALL_DEADLINE = Duration.ofSeconds(1);

  private static final int CALLS_PER_LINE = 60;

  private final long start = System.nanoTime();
  private @Nullable ZooKeeperCatalog catalog;
  private volatile String phase = "start";
  /** Per phase: calls, failed calls, the slowest call in ms. Only the calling thread writes it. */
  private final Map<String, long[]> perPhase = new LinkedHashMap<>();
  /** The replica's name for each address, for the event lines. */
  private final Map<HostAndPort, String> names = new java.util.concurrent.ConcurrentHashMap<>();
  /** Characters on the current progress line of calls; guarded by this. */
  private int progress;
  private final java.util.concurrent.CountDownLatch firstConnected = new java.util.concurrent.CountDownLatch(1);

  private FailoverDemo() {}

  public static void main(String[] args) throws Exception {
    new FailoverDemo().run();
  }

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
      ServerServiceDefinition service = Greeter.service(name);
      InetAddress loopback = InetAddress.getByAddress(new byte[] {127, 0, 0, 1});
      Server started =
          NettyServerBuilder.forAddress(
                  new InetSocketAddress(loopback, port), InsecureServerCredentials.create())
              .addService(service)
              .build()
              .start();
      port = ((InetSocketAddress) started.getListenSockets().get(0)).getPort();
      server = started;
      names.put(address(), name);
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
      say("script", "killing " + name + " abruptly: it stays listed in ZooKeeper, as after kill -9");
      Server running = server;
      if (running != null) {
        running.shutdownNow();
        running.awaitTermination(5, TimeUnit.SECONDS);
      }
    }

    /** Gracefully: calls in flight finish. */
    void stop() throws InterruptedException {
      say("script", "stopping " + name + " gracefully");
      Server running = server;
      if (running != null) {
        running.shutdown();
        running.awaitTermination(5, TimeUnit.SECONDS);
      }
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
    System.out.println(
        "Tether failover demo: three replicas of \"" + SERVICE + "\" in a ZooKeeper catalog; a client"
            + " calls every " + CALL_EVERY.toMillis() + " ms.");
    System.out.println(
        "Each call is one character on the 'calls' lines: . ok (fail-fast)   : ok (wait-for-ready)"
            + "   X failed");
    enter("start");
    try (TestingServer zookeeper = new TestingServer(
            // Loopback only: ZooKeeper listens on every interface unless told otherwise.
            new org.apache.curator.test.InstanceSpec(
                null, -1, -1, -1, true, -1, -1, -1,
                java.util.Map.of("clientPortAddress", "127.0.0.1"), "127.0.0.1"),
            true);
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
            .onEvent(
                event -> {
                  say("event", describe(event));
                  if (event instanceof Event.Connected) {
                    firstConnected.countDown();
                  }
                })
            .build();
    Subscription moves = zk.followMoves(SERVICE, connection); // a replica that leaves: handOver()
    Channel channel = PersistentChannel.of(connection);
    if (!firstConnected.await(10, TimeUnit.SECONDS)) {
      throw new IllegalStateException("not connected within 10 s: " + connection.state());
    }

    enter("steady");
    callFor(channel, Duration.ofSeconds(3));

    enter("abrupt kill");
    Replica serving = servingReplica(connection, replicas);
    serving.kill();
    callFor(channel, Duration.ofSeconds(3));
    serving.deregister(); // in real life, ZooKeeper drops it when the dead process's session ends
    serving.start();
    serving.register();
    callFor(channel, Duration.ofSeconds(2));

    enter("rolling restart");
    for (Replica replica : replicas) {
      replica.deregister(); // clients on it hand over to another
      callFor(channel, Duration.ofSeconds(1));
      replica.stop();
      replica.start();
      replica.register();
      callFor(channel, Duration.ofSeconds(1));
    }
    enter("steady again");
    callFor(channel, Duration.ofSeconds(2));

    enter("shutdown");
    moves.close();
    say("script", "closing the persistent connection");
    connection.close().get(10, TimeUnit.SECONDS);
    for (Replica replica : replicas) {
      replica.deregister();
    }
    System.out.println();
    System.out.println("Calls per phase (fail-fast and wait-for-ready calls in turn, 1 s deadline)");
    System.out.println("  phase             calls  failed  slowest");
    perPhase.forEach(
        (name, counts) ->
            System.out.printf(
                Locale.ROOT, "  %-16s %6d %7d %6d ms%n", name, counts[0], counts[1], counts[2]));
  }

  /** Starts a phase: a header line that stands out. */
  private synchronized void enter(String next) {
    endProgressLine();
    phase = next;
    String header = "== " + next + " ";
    System.out.println(header + "=".repeat(Math.max(3, 72 - header.length())));
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
      long[] counts = perPhase.computeIfAbsent(phase, p -> new long[3]);
      boolean waitForReady = counts[0]++ % 2 == 1;
      CallOptions options =
          CallOptions.DEFAULT.withDeadlineAfter(CALL_DEADLINE.toMillis(), TimeUnit.MILLISECONDS);
      long began = System.nanoTime();
      try {
        ClientCalls.blockingUnaryCall(
            channel, Greeter.HELLO, waitForReady ? options.withWaitForReady() : options, "hello");
        progress(waitForReady ? ':' : '.');
      } catch (StatusRuntimeException e) {
        counts[1]++;
        Status status = e.getStatus();
        progress('X');
        say("call", (waitForReady ? "wait-for-ready" : "fail-fast") + " call failed: " + status.getCode()
            + ": " + status.getDescription());
      }
      counts[2] = Math.max(counts[2], millis(System.nanoTime() - began));
      Thread.sleep(CALL_EVERY.toMillis()); // the demo's own pacing
    }
  }

  /** Adds a call's character to the current progress line. */
  private synchronized void progress(char call) {
    if (progress == CALLS_PER_LINE) {
      endProgressLine();
    }
    if (progress == 0) {
      System.out.print("          calls   ");
    }
    System.out.print(call);
    System.out.flush();
    progress++;
  }

  private void endProgressLine() {
    if (progress > 0) {
      System.out.println();
      progress = 0;
    }
  }

  private String describe(Event<HostAndPort, GrpcConnection<HostAndPort>> event) {
    if (event instanceof Event.ObtainedAddress<HostAndPort, GrpcConnection<HostAndPort>> obtained) {
      return "ObtainedAddress " + name(obtained.address());
    } else if (event instanceof Event.FailedToConnect<HostAndPort, GrpcConnection<HostAndPort>> failed) {
      return "FailedToConnect: " + failed.error().getMessage();
    } else if (event instanceof Event.Connected<HostAndPort, GrpcConnection<HostAndPort>> connected) {
      return "Connected to " + name(connected.connection().address());
    } else if (event instanceof Event.Disconnected) {
      return phase.equals("shutdown") ? "Disconnected (the last event: close() closed it)" : "Disconnected";
    }
    return event.toString();
  }

  private String name(HostAndPort address) {
    String name = names.get(address);
    return name == null ? address.toString() : name + " (" + address + ")";
  }

  private static long millis(long nanos) {
    return TimeUnit.NANOSECONDS.toMillis(nanos);
  }

  /** Prints one line that stands apart from the progress lines of calls. */
  private synchronized void say(String kind, String text) {
    endProgressLine();
    System.out.printf(Locale.ROOT, "%8.3fs %-7s %s%n", (System.nanoTime() - start) / 1e9, kind, text);
  }
}
