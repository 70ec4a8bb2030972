package dev.tether.examples;

import com.google.common.net.HostAndPort;
import com.google.common.util.concurrent.Futures;
import dev.tether.Event;
import dev.tether.PersistentConnection;
import dev.tether.grpc.ChannelFactory;
import dev.tether.grpc.GrpcConnection;
import dev.tether.grpc.GrpcConnector;
import dev.tether.grpc.PersistentChannel;
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
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.jspecify.annotations.Nullable;

/**
 * Two loopback gRPC replicas publish their addresses in a catalog; a client keeps calling one of
 * them every 100 ms through a persistent connection while a script kills and restarts the
 * replicas. Every event and every call is printed as it happens, then a summary. Runs about 25
 * seconds and exits by itself.
 */
public final class FailoverDemo {
  private static final Duration CALL_EVERY = Duration.ofMillis(100);
  private static final Duration CALL_DEADLINE = Duration.ofSeconds(1);
  private static final Duration RUN_FOR = Duration.ofSeconds(25);

  private final long start = System.nanoTime();
  /** The catalog: the replicas that are up, in the order they came up. */
  private final List<Replica> catalog = new CopyOnWriteArrayList<>();

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
      catalog.add(this);
      say("script", "started " + name + " on " + address() + "; it is in the catalog");
    }

    void kill() throws InterruptedException {
      catalog.remove(this);
      Server running = server;
      if (running != null) {
        running.shutdownNow();
        running.awaitTermination(5, TimeUnit.SECONDS);
      }
      say("script", "killed " + name + "; it left the catalog");
    }
  }

  // ---- the client ----

  private void run() throws Exception {
    Replica a = new Replica("replica-A");
    Replica b = new Replica("replica-B");
    a.start();
    b.start();

    List<String> connectedTo = new ArrayList<>();
    PersistentConnection<HostAndPort, GrpcConnection<HostAndPort>> connection =
        GrpcConnector.persistentConnection("greeter", ChannelFactory.plaintext())
            .addressLookup(
                () -> {
                  // Each attempt asks the catalog again: that is the whole failover mechanism.
                  if (catalog.isEmpty()) {
                    return Futures.immediateFailedFuture(
                        new IllegalStateException("no replica in the catalog"));
                  }
                  return Futures.immediateFuture(catalog.get(0).address());
                })
            .retryDelay(Duration.ofMillis(500))
            .onEvent(
                event -> {
                  say("event", describe(event));
                  if (event instanceof Event.Connected<HostAndPort, GrpcConnection<HostAndPort>> c) {
                    connectedTo.add(c.connection().address().toString());
                  }
                })
            .build();
    Channel channel = PersistentChannel.of(connection);

    List<Step> script =
        List.of(
            new Step(3, a::kill),
            new Step(8, a::start),
            new Step(12, b::kill),
            new Step(16, a::kill),
            new Step(19, b::start));

    int calls = 0;
    int failed = 0;
    long lastSuccess = System.nanoTime();
    long longestGap = 0;
    int nextStep = 0;
    while (elapsed() < RUN_FOR.toNanos()) {
      if (nextStep < script.size() && elapsed() >= TimeUnit.SECONDS.toNanos(script.get(nextStep).atSecond)) {
        script.get(nextStep++).action.run();
      }
      calls++;
      long began = System.nanoTime();
      try {
        String replica =
            ClientCalls.blockingUnaryCall(
                channel,
                HELLO,
                CallOptions.DEFAULT
                    .withWaitForReady()
                    .withDeadlineAfter(CALL_DEADLINE.toMillis(), TimeUnit.MILLISECONDS),
                "hello");
        long now = System.nanoTime();
        longestGap = Math.max(longestGap, now - lastSuccess);
        lastSuccess = now;
        say("call", String.format(Locale.ROOT, "#%d ok from %s in %d ms", calls, replica, millis(now - began)));
      } catch (StatusRuntimeException e) {
        failed++;
        Status status = e.getStatus();
        say("call", "#" + calls + " FAILED " + status.getCode() + ": " + status.getDescription());
      }
      Thread.sleep(CALL_EVERY.toMillis()); // the demo's own pacing: one call every 100 ms
    }
    longestGap = Math.max(longestGap, System.nanoTime() - lastSuccess);

    connection.close().get(10, TimeUnit.SECONDS);
    for (Replica replica : List.of(a, b)) {
      Server running = replica.server;
      if (running != null) {
        running.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
      }
    }
    int failovers = 0;
    for (int i = 1; i < connectedTo.size(); i++) {
      if (!connectedTo.get(i).equals(connectedTo.get(i - 1))) {
        failovers++;
      }
    }
    System.out.println();
    System.out.printf(
        Locale.ROOT,
        "Summary: %d calls made, %d failed, %d failovers seen (%d connections), longest gap"
            + " without a successful call: %d ms%n",
        calls,
        failed,
        failovers,
        connectedTo.size(),
        millis(longestGap));
  }

  private record Step(int atSecond, Action action) {}

  @FunctionalInterface
  private interface Action {
    void run() throws Exception;
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

  private long elapsed() {
    return System.nanoTime() - start;
  }

  private static long millis(long nanos) {
    return TimeUnit.NANOSECONDS.toMillis(nanos);
  }

  private void say(String kind, String text) {
    System.out.printf(Locale.ROOT, "%7.3fs  %-6s %s%n", elapsed() / 1e9, kind, text);
  }
}
