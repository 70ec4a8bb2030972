package dev.tether.testing.faults;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tether.grpc.Echo;
import dev.tether.grpc.Servers;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import java.time.Duration;
import java.util.Iterator;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** Each fault against a real Netty server on loopback, through a plain gRPC channel. */
class FaultProxyTest {
  @RegisterExtension final Servers servers = new Servers();
  @RegisterExtension final FaultProxy proxy = FaultProxy.create();
  private ManagedChannel channel;
  private Echo.Stub stub;

  @BeforeEach
  void start() {
    proxy.target(Servers.port(servers.netty("echo", 0)));
    channel = NettyChannelBuilder.forAddress("127.0.0.1", proxy.port()).usePlaintext().build();
    stub = new Echo.Stub(channel);
  }

  @AfterEach
  void stop() throws InterruptedException {
    channel.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
  }

  private String call(String message, long deadlineMillis) {
    return stub.withDeadlineAfter(deadlineMillis, TimeUnit.MILLISECONDS).say(message);
  }

  private Status.Code failure(String message, long deadlineMillis) {
    return assertThrows(StatusRuntimeException.class, () -> call(message, deadlineMillis))
        .getStatus()
        .getCode();
  }

  @Test
  void forwardsBothWays() {
    assertEquals("echo: hi", call("hi", 10_000));
    assertEquals(1, proxy.openConnections());
  }

  @Test
  void freeze_silencesBothWaysButKeepsTheConnection_andThawResumesIt() {
    assertEquals("echo: before", call("before", 10_000));
    proxy.freeze();
    assertEquals(Status.Code.DEADLINE_EXCEEDED, failure("frozen", 300));
    assertEquals(1, proxy.openConnections(), "the sockets stay open");
    proxy.thaw();
    assertEquals("echo: after", call("after", 10_000));
    assertEquals(1, proxy.openConnections(), "the same connection: nothing reconnected");
  }

  @Test
  void resetAll_breaksAStreamInFlight_andTheClientReconnects() {
    Iterator<String> stream =
        io.grpc.stub.ClientCalls.blockingServerStreamingCall(
            channel, Echo.REPEAT, io.grpc.CallOptions.DEFAULT.withDeadlineAfter(10, TimeUnit.SECONDS), "1000000");
    assertEquals("echo: 0", stream.next());
    proxy.resetAll();
    StatusRuntimeException broken =
        assertThrows(StatusRuntimeException.class, () -> stream.forEachRemaining(s -> {}));
    assertEquals(Status.Code.UNAVAILABLE, broken.getStatus().getCode());
    assertEquals("echo: again", stub.withWaitForReady().withDeadlineAfter(10, TimeUnit.SECONDS).say("again"));
  }

  @Test
  void refuseNew_refusesConnections_andOpenOnesGoOn() {
    assertEquals("echo: open", call("open", 10_000));
    proxy.refuseNew(true);
    assertEquals("echo: still", call("still", 10_000), "the open connection goes on");
    proxy.resetAll();
    // A call may still meet the reset connection; once the client noticed, connects are refused.
    String cause = "";
    for (int i = 0; i < 100 && !cause.contains("Connection refused"); i++) {
      StatusRuntimeException refused = assertThrows(StatusRuntimeException.class, () -> call("refused", 10_000));
      assertEquals(Status.Code.UNAVAILABLE, refused.getStatus().getCode());
      cause = String.valueOf(refused.getCause());
    }
    assertTrue(cause.contains("Connection refused"), cause);
    proxy.refuseNew(false);
    assertEquals("echo: back", stub.withWaitForReady().withDeadlineAfter(10, TimeUnit.SECONDS).say("back"));
  }

  @Test
  void latency_delaysEachWay() {
    assertEquals("echo: warm", call("warm", 10_000)); // connected, so only the call is delayed
    proxy.latency(Duration.ofMillis(150));
    long start = System.nanoTime();
    assertEquals("echo: slow", call("slow", 10_000));
    long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
    assertTrue(millis >= 300, "a round trip through two delays of 150 ms took " + millis + " ms");
    proxy.latency(Duration.ZERO);
    assertThrows(IllegalArgumentException.class, () -> proxy.latency(Duration.ofMillis(-1)));
  }

  @Test
  void close_endsEveryConnectionAndThread() {
    assertEquals("echo: hi", call("hi", 10_000));
    proxy.close();
    assertEquals(0, proxy.openConnections());
    assertThrows(StatusRuntimeException.class, () -> call("closed", 10_000)); // its connection is gone
    long alive =
        Thread.getAllStackTraces().keySet().stream()
            .filter(t -> t.getName().endsWith("-" + proxy.port()) && t.getName().startsWith("fault-proxy"))
            .filter(Thread::isAlive)
            .count();
    assertEquals(0, alive);
    // A fault asked of a closed proxy (one kept in a static field, say) fails, saying why.
    IllegalStateException closed = assertThrows(IllegalStateException.class, proxy::freeze);
    assertTrue(String.valueOf(closed.getMessage()).contains("is closed"), closed::getMessage);
    assertThrows(IllegalStateException.class, () -> proxy.latency(Duration.ofMillis(1)));
    assertThrows(IllegalStateException.class, () -> proxy.target(1));
    assertThrows(IllegalStateException.class, () -> proxy.refuseNew(true));
    proxy.thaw(); // cleanup calls stay harmless
    proxy.resetAll();
    proxy.close();
  }

  @Test
  void badArguments_failNamingThem() {
    IllegalArgumentException port = assertThrows(IllegalArgumentException.class, () -> FaultProxy.to(0));
    assertEquals("targetPort must be between 1 and 65535: 0", port.getMessage());
    assertThrows(IllegalArgumentException.class, () -> proxy.target(70_000));
  }
}
