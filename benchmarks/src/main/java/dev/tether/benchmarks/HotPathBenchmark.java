package dev.tether.benchmarks;

import com.google.common.net.HostAndPort;
import com.google.common.util.concurrent.Futures;
import dev.tether.PersistentConnection;
import dev.tether.grpc.ChannelFactory;
import dev.tether.grpc.Echo;
import dev.tether.grpc.GrpcConnection;
import dev.tether.grpc.GrpcConnector;
import dev.tether.grpc.PersistentChannel;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.ClientCalls;
import java.util.concurrent.TimeUnit;
import org.jspecify.annotations.Nullable;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

/** Unary calls per second through Tether's Channel against the raw ManagedChannel. */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
public class HotPathBenchmark {
  @Param({"inprocess", "netty"})
  public String transport = "inprocess";

  private @Nullable Server server;
  private @Nullable Replica replica;
  private @Nullable ManagedChannel raw;
  private @Nullable PersistentConnection<?, ?> connection;
  private @Nullable Channel tether;

  @Setup(Level.Trial)
  public void setUp() throws Exception {
    if (transport.equals("inprocess")) {
      server =
          InProcessServerBuilder.forName("hotpath").directExecutor().addService(Echo.service("s")).build().start();
      raw = InProcessChannelBuilder.forName("hotpath").directExecutor().build();
      PersistentConnection<String, GrpcConnection<String>> pc =
          GrpcConnector.builder(ChannelFactory.inProcess())
              .customizer(builder -> builder.directExecutor())
              .build()
              .persistentConnection("hotpath")
              .addressLookup(() -> Futures.immediateFuture("hotpath"))
              .build();
      connection = pc;
      tether = PersistentChannel.of(pc);
    } else {
      Replica started = new Replica("s");
      replica = started;
      HostAndPort address = started.address();
      raw = NettyChannelBuilder.forAddress("127.0.0.1", address.getPort()).usePlaintext().build();
      PersistentConnection<HostAndPort, GrpcConnection<HostAndPort>> pc =
          GrpcConnector.persistentConnection("hotpath", ChannelFactory.plaintext())
              .addressLookup(() -> Futures.immediateFuture(address))
              .build();
      connection = pc;
      tether = PersistentChannel.of(pc);
    }
    connection.connected().get(10, TimeUnit.SECONDS);
  }

  @TearDown(Level.Trial)
  public void tearDown() throws Exception {
    if (connection != null) {
      connection.close().get(10, TimeUnit.SECONDS);
    }
    if (raw != null) {
      raw.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    }
    if (server != null) {
      server.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    }
    if (replica != null) {
      replica.kill();
    }
  }

  private static String call(@Nullable Channel channel) {
    return ClientCalls.blockingUnaryCall(
        java.util.Objects.requireNonNull(channel), Echo.SAY, CallOptions.DEFAULT, "x");
  }

  @Benchmark
  public String rawChannel() {
    return call(raw);
  }

  @Benchmark
  public String tetherChannel() {
    return call(tether);
  }
}
