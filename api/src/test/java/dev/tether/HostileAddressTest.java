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

  @Test
  void addressWhoseEqualsThrows_connectsDropsAndReconnects_andListenersSeeEveryState() {
    VirtualTimeScheduler time = VirtualTimeScheduler.create();
    List<FakeConnection> made = new ArrayList<>();
    List<Status> seen = new ArrayList<>();
    RecordingListener<Hostile, FakeConnection> events = new RecordingListener<>();
    PersistentConnection<Hostile, FakeConnection> pc =
        PersistentConnection.<Hostile, FakeConnection>builder("hostile")
            .addressLookup(() -> immediateFuture(new Hostile("h" + made.size())))
            .connector(
                address -> {
                  FakeConnection c = FakeConnection.named("c" + (made.size() + 1));
                  made.add(c);
                  return immediateFuture(c);
                })
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
}
