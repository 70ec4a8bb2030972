package dev.tether.grpc;

import static com.google.common.util.concurrent.MoreExecutors.directExecutor;
import static org.junit.jupiter.api.Assertions.assertEquals;

import com.google.common.net.HostAndPort;
import com.google.common.util.concurrent.Futures;
import dev.tether.PersistentConnection;
import io.grpc.CallOptions;
import io.grpc.Server;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Flow-controlled streaming through a {@link PersistentChannel} on a healthy connection: requests
 * sent only from {@code onReady} while {@code isReady()}, responses requested one at a time, with
 * the default callback executor and with {@code directExecutor()}, 50 calls of each kind.
 */
class StreamingTest {
  private static final int RUNS = 50;
  private static final int MESSAGES = 100;

  @RegisterExtension final Servers servers = new Servers();
  private @Nullable PersistentConnection<?, ? extends GrpcConnection<?>> connection;

  @AfterEach
  void close() throws Exception {
    PersistentConnection<?, ?> made = connection;
    if (made != null) {
      made.close().get(10, TimeUnit.SECONDS);
    }
  }

  private PersistentChannel connect(String transport) throws Exception {
    if (transport.equals("inprocess")) {
      servers.inProcess("streams");
      connection =
          GrpcConnector.persistentConnection("streams", ChannelFactory.inProcess())
              .addressLookup(() -> Futures.immediateFuture("streams"))
              .retryDelay(Duration.ofMillis(50))
              .build();
    } else {
      Server server = servers.netty("streams", 0);
      HostAndPort address = HostAndPort.fromParts("127.0.0.1", Servers.port(server));
      connection =
          GrpcConnector.persistentConnection("streams", ChannelFactory.plaintext())
              .addressLookup(() -> Futures.immediateFuture(address))
              .retryDelay(Duration.ofMillis(50))
              .build();
    }
    PersistentConnection<?, ? extends GrpcConnection<?>> made = connection;
    made.connected().get(10, TimeUnit.SECONDS);
    return PersistentChannel.of(made);
  }

  private static CallOptions options(String executor) {
    CallOptions options =
        CallOptions.DEFAULT.withWaitForReady().withDeadlineAfter(20, TimeUnit.SECONDS);
    return executor.equals("direct") ? options.withExecutor(directExecutor()) : options;
  }

  @ParameterizedTest(name = "{0} streaming, {1}, {2} executor")
  @CsvSource({
    "client, inprocess, default", "client, inprocess, direct", "client, netty, default",
    "client, netty, direct", "server, inprocess, default", "server, inprocess, direct",
    "server, netty, default", "server, netty, direct", "bidi, inprocess, default",
    "bidi, inprocess, direct", "bidi, netty, default", "bidi, netty, direct"
  })
  void flowControlledStreams_complete(String kind, String transport, String executor)
      throws Exception {
    PersistentChannel channel = connect(transport);
    for (int run = 0; run < RUNS; run++) {
      CompletableFuture<?> call =
          switch (kind) {
            case "client" -> Streams.clientStream(channel, options(executor), MESSAGES);
            case "server" -> Streams.serverStream(channel, options(executor), MESSAGES);
            default -> Streams.bidiStream(channel, options(executor), MESSAGES);
          };
      Object got = call.get(10, TimeUnit.SECONDS);
      assertEquals(kind.equals("client") ? "streams: n=" + MESSAGES : MESSAGES, got, "run " + run);
    }
  }
}
