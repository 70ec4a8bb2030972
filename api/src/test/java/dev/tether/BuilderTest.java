package dev.tether;

import static com.google.common.util.concurrent.Futures.immediateFuture;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tether.testing.VirtualTimeScheduler;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

/** Bad input fails at once with a message that names the argument. */
class BuilderTest {

  private static void fails(Class<? extends Throwable> type, String message, Executable call) {
    Throwable thrown = assertThrows(type, call);
    assertTrue(
        String.valueOf(thrown.getMessage()).contains(message),
        "expected a message containing '" + message + "' but got: " + thrown.getMessage());
  }

  @SuppressWarnings({"NullAway", "TypeParameterUnusedInFormals"}) // null on purpose
  private static <T> T nil() {
    return null;
  }

  private static PersistentConnection.Builder<String, FakeConnection> builder() {
    return PersistentConnection.builder("orders");
  }

  @Test
  void serverName_nullOrBlank_fails() {
    fails(NullPointerException.class, "serverName", () -> PersistentConnection.builder(nil()));
    fails(IllegalArgumentException.class, "serverName", () -> PersistentConnection.builder(" \t"));
  }

  @Test
  void nullArguments_failNamingTheArgument() {
    fails(NullPointerException.class, "lookup", () -> builder().addressLookup(nil()));
    fails(NullPointerException.class, "connector", () -> builder().connector(nil()));
    fails(NullPointerException.class, "delay", () -> builder().retryDelay((RetryDelay) nil()));
    fails(NullPointerException.class, "delay", () -> builder().retryDelay((Duration) nil()));
    fails(NullPointerException.class, "listener", () -> builder().onEvent(nil()));
    fails(NullPointerException.class, "logger", () -> builder().logger(nil()));
    fails(NullPointerException.class, "scheduler", () -> builder().scheduler(nil()));
  }

  @Test
  void negativeDelay_fails() {
    fails(
        IllegalArgumentException.class,
        "delay must not be negative",
        () -> builder().retryDelay(Duration.ofMillis(-1)));
  }

  @Test
  void missingLookupOrConnector_failsAtBuild() {
    fails(
        IllegalStateException.class,
        "addressLookup is required",
        () -> builder().connector(a -> immediateFuture(FakeConnection.named("c"))).build());
    fails(
        IllegalStateException.class,
        "connector is required",
        () -> builder().addressLookup(() -> immediateFuture("a")).build());
  }

  @Test
  void setOnceOptions_failWhenSetTwice() {
    fails(
        IllegalStateException.class,
        "addressLookup was already set",
        () -> builder().addressLookup(() -> immediateFuture("a")).addressLookup(() -> immediateFuture("b")));
    fails(
        IllegalStateException.class,
        "retryDelay was already set",
        () -> builder().retryDelay(Duration.ofSeconds(1)).retryDelay(RetryDelay.constant(Duration.ZERO)));
    fails(
        IllegalStateException.class,
        "randomizeRetryDelay was already set",
        () -> builder().randomizeRetryDelay(true).randomizeRetryDelay(false));
    VirtualTimeScheduler time = VirtualTimeScheduler.create();
    fails(
        IllegalStateException.class,
        "scheduler was already set",
        () -> builder().scheduler(time).scheduler(time));
  }

  @Test
  void build_copiesTheOptions_soOneBuilderBuildsIndependentConnections() {
    VirtualTimeScheduler time = VirtualTimeScheduler.create();
    Harness h = new Harness();
    PersistentConnection.Builder<String, FakeConnection> builder =
        builder()
            .addressLookup(() -> immediateFuture("a"))
            .connector(a -> immediateFuture(h.newConnection()))
            .scheduler(time);
    PersistentConnection<String, FakeConnection> first = builder.build();
    builder.onEvent(h.events);
    PersistentConnection<String, FakeConnection> second = builder.build();
    time.runDueTasks();
    assertNotSame(first.currentConnection(), second.currentConnection());
    assertEquals(2, h.made.size());
    // Only the second one has the listener added after the first build.
    h.events.expect("AttemptingToConnect", "ObtainedAddress a", "Connected " + second.currentConnection());
    assertEquals("orders", second.serverName());
  }
}
