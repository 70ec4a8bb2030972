package dev.tether;

import static com.google.common.util.concurrent.Futures.immediateFailedFuture;
import static com.google.common.util.concurrent.Futures.immediateFuture;
import static java.util.Objects.requireNonNull;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.common.util.concurrent.Futures;
import com.google.common.util.concurrent.ListenableFuture;
import dev.tether.ConnectionState.Status;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.slf4j.event.Level;

/** DESIGN 7.6: the warm standby, on virtual time. */
class StandbyTest {
  private final Harness h = new Harness();
  /** What the lookups yield, in turn; the last one again once the others are used. */
  private final Deque<ListenableFuture<String>> answers = new ArrayDeque<>();

  private PersistentConnection<String, FakeConnection> start(String... addresses) {
    for (String address : addresses) {
      answers.add(immediateFuture(address));
    }
    h.lookup = () -> answers.size() > 1 ? answers.poll() : answers.peek();
    return h.builder().standby(true).build();
  }

  @Test
  void afterConnected_aStandbyToAnotherAddressIsPrepared_withNoEvents() {
    PersistentConnection<String, FakeConnection> pc = start("a", "b");
    h.time.runDueTasks();

    h.events.expect("AttemptingToConnect", "ObtainedAddress a", "Connected c1");
    assertEquals(2, h.made.size(), "the standby is connected");
    ConnectionState<String, FakeConnection> state = pc.state();
    assertEquals(Status.CONNECTED, state.status());
    assertEquals("a", state.address());
    assertEquals("b", state.standbyAddress());
    assertSame(h.made.get(0), state.connection());
    assertEquals(2, state.attempts());
    assertEquals(1, state.connections());
  }

  @Test
  void whenTheCurrentConnectionDrops_theStandbyTakesOverAtOnce_withNoLookup() {
    PersistentConnection<String, FakeConnection> pc = start("a", "b", "c");
    h.time.runDueTasks();
    h.events.take();
    int lookups = h.lookups;

    h.made.get(0).drop(); // young: without a standby the round would wait 10 s

    h.events.expect("Disconnected", "AttemptingToConnect", "ObtainedAddress b", "Connected c2");
    assertSame(h.made.get(1), pc.currentConnection());
    assertEquals(lookups + 1, h.lookups, "only the new standby's lookup");
    assertEquals("b", pc.state().address());
    assertEquals("c", pc.state().standbyAddress(), "a new standby attempt started");
    assertEquals(3, h.made.size());
  }

  @Test
  void lookupYieldingTheCurrentAddress_leavesNoStandby_andTheNextTriesWhenItsTimerFires() {
    PersistentConnection<String, FakeConnection> pc = start("a", "a", "b");
    h.time.runDueTasks();
    assertNull(pc.state().standbyAddress());
    assertEquals(1, h.made.size());
    assertEquals(List.of(0, 0), h.delaysAsked.subList(0, 2));

    h.advance(Duration.ofSeconds(9));
    assertEquals(1, h.made.size(), "the standby's timer has not fired");
    h.advance(Duration.ofSeconds(1));
    assertEquals("b", pc.state().standbyAddress());
    assertEquals(1, h.delaysAsked.get(2), "one standby attempt left no standby");
    h.events.expect("AttemptingToConnect", "ObtainedAddress a", "Connected c1");
  }

  @Test
  void aStandbyThatDrops_isReplacedWhenTheTimerOfTheAttemptThatMadeItFires() {
    PersistentConnection<String, FakeConnection> pc = start("a", "b", "c");
    h.time.runDueTasks();
    h.advance(Duration.ofSeconds(3));

    h.made.get(1).drop();

    assertNull(pc.state().standbyAddress());
    h.advance(Duration.ofSeconds(6));
    assertEquals(2, h.made.size());
    h.advance(Duration.ofSeconds(1));
    assertEquals("c", pc.state().standbyAddress());
    h.events.expect("AttemptingToConnect", "ObtainedAddress a", "Connected c1");
  }

  @Test
  void aFailedStandbyAttempt_isLoggedAtWarn_andTheCurrentConnectionIsUntouched() {
    answers.add(immediateFuture("a"));
    answers.add(immediateFailedFuture(new IOException("catalog down")));
    answers.add(immediateFuture("b"));
    h.lookup = () -> answers.size() > 1 ? answers.poll() : answers.peek();
    PersistentConnection<String, FakeConnection> pc = h.builder().standby(true).build();
    h.time.runDueTasks();

    h.events.expect("AttemptingToConnect", "ObtainedAddress a", "Connected c1");
    assertEquals(Status.CONNECTED, pc.state().status());
    assertNull(pc.state().lastFailure());
    assertTrue(
        h.logger.lines().stream()
            .anyMatch(l -> l.level() == Level.WARN && l.message().contains("standby attempt failed")),
        h.logger.lines().toString());
    h.advance(Duration.ofSeconds(10));
    assertEquals("b", pc.state().standbyAddress());
  }

  @Test
  void close_closesTheStandbyToo() {
    PersistentConnection<String, FakeConnection> pc = start("a", "b");
    h.time.runDueTasks();

    assertTrue(pc.close().isDone());

    assertEquals(1, h.made.get(0).closeCalls());
    assertEquals(1, h.made.get(1).closeCalls());
    h.events.expect("AttemptingToConnect", "ObtainedAddress a", "Connected c1", "Disconnected");
  }

  @Test
  void handOverToTheStandbysAddress_switchesToTheStandbyAtOnce() {
    PersistentConnection<String, FakeConnection> pc = start("a", "b", "b", "c");
    h.time.runDueTasks();
    h.events.take();
    FakeConnection standby = h.made.get(1);
    int connects = h.connects;

    assertSame(standby, Harness.done(pc.handOver()));

    assertEquals(connects + 1, h.connects, "only the new standby's connect");
    h.events.expect("Disconnected", "AttemptingToConnect", "ObtainedAddress b", "Connected c2");
    h.advance(Duration.ofSeconds(5));
    assertEquals(1, h.made.get(0).closeCalls(), "the old connection is closed after its grace");
    assertEquals("c", pc.state().standbyAddress());
  }

  @Test
  void aStandbyAttemptInFlightWhenTheCurrentDrops_isCancelled_andTheNormalRoundRuns() {
    com.google.common.util.concurrent.SettableFuture<String> standbyLookup =
        com.google.common.util.concurrent.SettableFuture.create();
    answers.add(immediateFuture("a"));
    answers.add(standbyLookup);
    answers.add(immediateFuture("c"));
    h.lookup = () -> answers.size() > 1 ? answers.poll() : answers.peek();
    PersistentConnection<String, FakeConnection> pc = h.builder().standby(true).build();
    h.time.runDueTasks();
    h.events.take();

    h.made.get(0).drop();

    assertTrue(standbyLookup.isCancelled());
    h.events.expect("Disconnected");
    assertEquals(Status.WAITING_TO_RETRY, pc.state().status(), "young: the round waits");
    h.advance(Duration.ofSeconds(10));
    h.events.expect("AttemptingToConnect", "ObtainedAddress c", "Connected c2");
  }

  @Test
  void aStandbyThatTookOverAndDropsYoung_waitsOutItsDelay_thenReconnects() {
    PersistentConnection<String, FakeConnection> pc = start("a", "b", "b", "c");
    h.time.runDueTasks();
    h.made.get(0).drop(); // b takes over; its standby attempt yields b: none
    h.advance(Duration.ofSeconds(2));
    h.events.take();

    h.made.get(1).drop();

    h.events.expect("Disconnected");
    assertEquals(Status.WAITING_TO_RETRY, pc.state().status(), "the standby attempt's timer");
    h.advance(Duration.ofSeconds(8));
    h.events.expect("AttemptingToConnect", "ObtainedAddress c", "Connected c3");
  }

  @Test
  void aStandbyConnectingToWhereAHandoverGoes_isReplaced() {
    com.google.common.util.concurrent.SettableFuture<FakeConnection> standbyConnect =
        com.google.common.util.concurrent.SettableFuture.create();
    PersistentConnection<String, FakeConnection> pc = start("a", "z", "z", "y");
    java.util.concurrent.atomic.AtomicBoolean first = new java.util.concurrent.atomic.AtomicBoolean(true);
    h.connector =
        address ->
            address.equals("z") && first.getAndSet(false)
                ? standbyConnect
                : immediateFuture(h.newConnection());
    h.time.runDueTasks(); // connected to a; the standby connects to z
    assertEquals(1, h.made.size());

    ListenableFuture<FakeConnection> handover = pc.handOver(); // also to z
    assertTrue(handover.isDone());
    FakeConnection handedOver = Harness.done(handover);

    assertEquals("z", pc.state().address());
    assertTrue(standbyConnect.isCancelled(), "the standby for z is dropped");
    assertEquals("y", pc.state().standbyAddress(), "a new standby, elsewhere");
    assertSame(handedOver, pc.currentConnection());
  }

  @Test
  void failedStandbyAttempts_countInTheState() {
    answers.add(immediateFuture("a"));
    answers.add(immediateFailedFuture(new IOException("catalog down")));
    h.lookup = () -> answers.size() > 1 ? answers.poll() : answers.peek();
    PersistentConnection<String, FakeConnection> pc = h.builder().standby(true).build();
    h.time.runDueTasks();
    assertEquals(2, pc.state().attempts());
    h.advance(Duration.ofSeconds(10));
    assertEquals(3, pc.state().attempts());
  }

  @Test
  void closeFromAListenerAsTheStandbyTakesOver_closeFinishedWaitsForTheStandbysClose() {
    for (String closeOn : List.of("Disconnected", "AttemptingToConnect", "ObtainedAddress")) {
      Harness h = new Harness();
      List<FakeConnection> made = new java.util.ArrayList<>();
      h.lookup = lookupsInTurn("a", "b");
      h.connector =
          address -> {
            FakeConnection c = FakeConnection.slowToClose(address);
            made.add(c);
            return immediateFuture(c);
          };
      java.util.concurrent.atomic.AtomicReference<PersistentConnection<String, FakeConnection>>
          self = new java.util.concurrent.atomic.AtomicReference<>();
      PersistentConnection<String, FakeConnection> pc =
          h.builder()
              .standby(true)
              .onEvent(
                  event -> {
                    if (made.size() == 2 && event.getClass().getSimpleName().equals(closeOn)) {
                      requireNonNull(self.get()).close();
                    }
                  })
              .build();
      self.set(pc);
      h.time.runDueTasks();
      assertEquals("b", pc.state().standbyAddress(), closeOn);

      made.get(0).drop();

      assertEquals(1, made.get(1).closeCalls(), closeOn + ": the standby is closed");
      assertFalse(pc.closeFinished().isDone(), closeOn + ": waits for the standby's close");
      made.get(1).finishClosing();
      assertTrue(pc.closeFinished().isDone(), closeOn);
      assertEquals(Status.CLOSED, pc.state().status(), closeOn);
    }
  }

  /** A lookup that yields {@code addresses} in turn, round and round. */
  private static AddressLookup<String> lookupsInTurn(String... addresses) {
    java.util.concurrent.atomic.AtomicInteger turn = new java.util.concurrent.atomic.AtomicInteger();
    return () -> immediateFuture(addresses[turn.getAndIncrement() % addresses.length]);
  }
}
