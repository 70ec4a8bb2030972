package dev.tether;

import static com.google.common.util.concurrent.Futures.immediateFuture;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.common.util.concurrent.ListenableFuture;
import dev.tether.ConnectionState.Status;
import dev.tether.testing.VirtualTimeScheduler;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** An address type whose equals() throws never breaks the loop, its waiters or its state listeners. */
class HostileAddressTest {
  /** An address that cannot be compared. */
  private record Hostile(String name) {
    @Override
    public boolean equals(Object other) {
      throw new IllegalStateException("no comparing " + name);
    }

    @Override
    public int hashCode() {
      return name.hashCode();
    }

    @Override
    public String toString() {
      return name;
    }
  }

  /** A new connection, c1, c2, ..., added to {@code made}. */
  private static ListenableFuture<FakeConnection> madeInto(List<FakeConnection> made) {
    FakeConnection c = FakeConnection.named("c" + (made.size() + 1));
    made.add(c);
    return immediateFuture(c);
  }

  @Test
  void addressWhoseEqualsThrows_connectsDropsAndReconnects_andListenersSeeEveryState() {
    VirtualTimeScheduler time = VirtualTimeScheduler.create();
    List<FakeConnection> made = new ArrayList<>();
    List<Status> seen = new ArrayList<>();
    RecordingListener<Hostile, FakeConnection> events = new RecordingListener<>();
    PersistentConnection<Hostile, FakeConnection> pc =
        PersistentConnection.<Hostile, FakeConnection>builder("hostile")
            .addressLookup(() -> immediateFuture(new Hostile("h" + made.size())))
            .connector(address -> madeInto(made))
            .retryDelay(Duration.ofSeconds(1))
            .randomizeRetryDelay(false)
            .standby(true)
            .onEvent(events)
            .logger(new RecordingLogger())
            .scheduler(time)
            .build();
    pc.subscribeState(state -> seen.add(state.status()));
    ListenableFuture<FakeConnection> connected = pc.connected();

    time.runDueTasks();

    assertTrue(connected.isDone(), "its waiters complete");
    assertSame(made.get(0), Harness.done(connected));
    assertEquals(Status.CONNECTED, pc.state().status());
    made.get(0).drop(); // the standby (c2) takes over
    assertSame(made.get(1), pc.currentConnection());
    time.advance(Duration.ofSeconds(5));
    assertTrue(pc.close().isDone());
    assertEquals(Status.CLOSED, seen.get(seen.size() - 1));
    assertTrue(seen.contains(Status.CONNECTING) && seen.contains(Status.CONNECTED), seen.toString());
    List<String> lines = events.take();
    assertEquals("Disconnected", lines.get(lines.size() - 1), lines.toString());
    assertTrue(lines.contains("Connected c2"), lines.toString());
  }

  /** An address that cannot be printed. */
  private record UnprintableAddress(String name) {
    @Override
    public String toString() {
      throw new IllegalStateException("no printing " + name);
    }
  }

  @Test
  void anAddressWhoseToStringThrows_isHandedOverTo_withEveryEvent_andTheOldConnectionClosed() {
    VirtualTimeScheduler time = VirtualTimeScheduler.create();
    List<FakeConnection> made = new ArrayList<>();
    List<String> seen = new ArrayList<>();
    PersistentConnection<UnprintableAddress, FakeConnection> pc =
        PersistentConnection.<UnprintableAddress, FakeConnection>builder("hostile")
            .addressLookup(() -> immediateFuture(new UnprintableAddress("u" + made.size())))
            .connector(address -> madeInto(made))
            .retryDelay(Duration.ofSeconds(1))
            .onEvent(event -> seen.add(event.getClass().getSimpleName()))
            .logger(new RecordingLogger())
            .scheduler(time)
            .build();
    time.runDueTasks();
    assertEquals(List.of("AttemptingToConnect", "ObtainedAddress", "Connected"), seen);
    seen.clear();

    ListenableFuture<FakeConnection> handedOver = pc.handOver();

    assertSame(made.get(1), Harness.done(handedOver));
    assertEquals(List.of("Disconnected", "AttemptingToConnect", "ObtainedAddress", "Connected"), seen);
    assertTrue(made.get(0).isClosed(), "the old connection is closed in the switching step");
    assertSame(made.get(1), Harness.done(pc.connected()));
    ListenableFuture<FakeConnection> again = pc.handOver();
    assertSame(made.get(2), Harness.done(again), "a later handover starts its own");
    pc.close();
  }

  /** An error whose message cannot be built: toString() and getMessage() throw. */
  private static final class Unprintable extends RuntimeException {
    @Override
    public String getMessage() {
      throw new IllegalStateException("no message");
    }
  }

  @Test
  void aUserErrorWhoseMessageThrows_failsTheAttempt_andTheLoopGoesOn() {
    VirtualTimeScheduler time = VirtualTimeScheduler.create();
    RecordingListener<String, FakeConnection> events = new RecordingListener<>();
    RecordingLogger debugLog = new RecordingLogger();
    java.util.concurrent.atomic.AtomicInteger lookups = new java.util.concurrent.atomic.AtomicInteger();
    PersistentConnection<String, FakeConnection> pc =
        PersistentConnection.<String, FakeConnection>builder("hostile")
            .addressLookup(
                () -> {
                  if (lookups.incrementAndGet() == 1) {
                    throw new Unprintable();
                  }
                  return immediateFuture("a");
                })
            .connector(
                address ->
                    lookups.get() == 2
                        ? com.google.common.util.concurrent.Futures.immediateFailedFuture(new Unprintable())
                        : immediateFuture(FakeConnection.named("c")))
            .retryDelay(Duration.ofSeconds(1))
            .randomizeRetryDelay(false)
            .onEvent(events)
            .logger(debugLog)
            .scheduler(time)
            .build();

    time.runDueTasks();
    String unprintable =
        Unprintable.class.getName() + " (its toString() threw java.lang.IllegalStateException)";
    events.expect("AttemptingToConnect", "FailedToConnect LOOKUP address lookup failed: " + unprintable);
    assertEquals(Status.WAITING_TO_RETRY, pc.state().status());
    ConnectAttemptException first = java.util.Objects.requireNonNull(pc.state().lastFailure());
    assertTrue(
        String.valueOf(first.getMessage()).contains(Unprintable.class.getName()), first.getMessage());
    time.advance(Duration.ofSeconds(1));
    // The same error in a failed future as thrown: alike.
    events.expect("ObtainedAddress a", "FailedToConnect CONNECT connector failed: " + unprintable);
    assertTrue(debugLog.lines().stream().noneMatch(line -> line.toString().startsWith("ERROR")), debugLog.lines().toString());
    time.advance(Duration.ofSeconds(1));
    events.expect("Connected c");
    assertEquals(Status.CONNECTED, pc.state().status());
    pc.close();
  }

  /** A done future whose get() throws an ExecutionException without a cause. */
  private static <T> ListenableFuture<T> failedWithoutACause() {
    com.google.common.util.concurrent.SettableFuture<T> done =
        com.google.common.util.concurrent.SettableFuture.create();
    done.setException(new IllegalStateException("hidden"));
    return new com.google.common.util.concurrent.ForwardingListenableFuture
        .SimpleForwardingListenableFuture<T>(done) {
      @Override
      public T get() throws java.util.concurrent.ExecutionException {
        throw new java.util.concurrent.ExecutionException("no cause", null);
      }
    };
  }

  @Test
  void aFutureThatFailsWithoutACause_failsTheAttempt_andTheLoopGoesOn() {
    VirtualTimeScheduler time = VirtualTimeScheduler.create();
    RecordingListener<String, FakeConnection> events = new RecordingListener<>();
    java.util.concurrent.atomic.AtomicInteger lookups = new java.util.concurrent.atomic.AtomicInteger();
    PersistentConnection<String, FakeConnection> pc =
        PersistentConnection.<String, FakeConnection>builder("hostile")
            .addressLookup(
                () -> lookups.incrementAndGet() == 1 ? failedWithoutACause() : immediateFuture("a"))
            .connector(address -> immediateFuture(FakeConnection.named("c")))
            .retryDelay(Duration.ofSeconds(1))
            .randomizeRetryDelay(false)
            .onEvent(events)
            .logger(new RecordingLogger())
            .scheduler(time)
            .build();

    time.runDueTasks();
    events.expect(
        "AttemptingToConnect",
        "FailedToConnect LOOKUP address lookup failed: java.lang.IllegalStateException:"
            + " AddressLookup.lookup() failed without a cause");
    time.advance(Duration.ofSeconds(1));
    events.expect("ObtainedAddress a", "Connected c");
    pc.close();
  }
}
