package dev.tether;

import static com.google.common.util.concurrent.Futures.immediateFailedFuture;
import static com.google.common.util.concurrent.Futures.immediateFuture;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.common.util.concurrent.ListenableFuture;
import com.google.common.util.concurrent.SettableFuture;
import dev.tether.ConnectionState.Status;
import dev.tether.internal.UncancellableFuture;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** DESIGN 7.1 to 7.3: state(), state listeners and retryNow(), on virtual time. */
class StateTest {
  private final Harness h = new Harness();

  /** States and events in the one order they were delivered, as short lines. */
  private static final class Timeline implements StateListener<String, FakeConnection>, EventListener<String, FakeConnection> {
    final Lines lines = new Lines();
    final List<ConnectionState<String, FakeConnection>> states = new ArrayList<>();

    @Override
    public synchronized void onState(ConnectionState<String, FakeConnection> state) {
      states.add(state);
      lines.add(describe(state));
    }

    @Override
    public synchronized void onEvent(Event<String, FakeConnection> event) {
      lines.add("  " + RecordingListener.describe(event));
    }

    List<String> take() {
      return lines.take();
    }

    void expect(String... expected) {
      lines.expect(expected);
    }
  }

  static String describe(ConnectionState<?, ?> state) {
    StringBuilder line = new StringBuilder(state.status().toString());
    if (state.address() != null) {
      line.append(' ').append(state.address());
    }
    if (state.connection() != null) {
      line.append(' ').append(state.connection());
    }
    if (state.consecutiveFailures() > 0) {
      line.append(" fails=").append(state.consecutiveFailures());
    }
    ConnectAttemptException failure = state.lastFailure();
    if (failure != null) {
      line.append(' ').append(failure.stage());
    }
    Duration retryIn = state.retryIn();
    if (retryIn != null) {
      line.append(" in ").append(retryIn.toMillis()).append("ms");
    }
    return line.toString();
  }

  private Timeline timeline(PersistentConnection<String, FakeConnection> pc) {
    Timeline timeline = new Timeline();
    pc.subscribeState(timeline);
    pc.subscribe(timeline);
    return timeline;
  }

  @Test
  void beforeTheFirstRound_theStatusIsWaitingToRetry_dueNow() {
    PersistentConnection<String, FakeConnection> pc = h.builder().build();
    ConnectionState<String, FakeConnection> state = pc.state();
    assertEquals(Status.WAITING_TO_RETRY, state.status());
    assertEquals(Duration.ZERO, state.retryIn());
    assertEquals(0, state.attempts());
    assertEquals(0, state.connections());
    assertNull(state.address());
    assertNull(state.connection());
  }

  @Test
  void scriptedRun_eachStateGoesJustBeforeItsEvent() {
    List<ListenableFuture<String>> answers = new ArrayList<>();
    answers.add(immediateFailedFuture(new IOException("catalog down")));
    answers.add(immediateFuture("a"));
    h.lookup = () -> answers.isEmpty() ? immediateFuture("b") : answers.remove(0);
    PersistentConnection<String, FakeConnection> pc = h.builder().build();
    Timeline t = timeline(pc);
    t.expect("WAITING_TO_RETRY in 0ms");

    h.time.runDueTasks(); // the first round: the lookup fails
    t.expect(
        "CONNECTING",
        "  AttemptingToConnect",
        "WAITING_TO_RETRY fails=1 LOOKUP in 10000ms",
        "  FailedToConnect LOOKUP address lookup failed: java.io.IOException: catalog down");
    h.advance(Duration.ofSeconds(4));
    assertEquals(Duration.ofSeconds(6), pc.state().retryIn(), "time left, on virtual time");

    h.advance(Duration.ofSeconds(6)); // the retry: it connects
    t.expect("CONNECTING fails=1 LOOKUP", "CONNECTING a fails=1 LOOKUP", "  ObtainedAddress a", "CONNECTED a c1", "  Connected c1");
    ConnectionState<String, FakeConnection> connected = pc.state();
    assertSame(h.made.get(0), connected.connection());
    assertEquals(2, connected.attempts());
    assertEquals(1, connected.connections());
    assertNull(connected.lastFailure());

    h.made.get(0).drop(); // young: it waits for the rest of the delay
    t.expect("WAITING_TO_RETRY a in 10000ms", "  Disconnected");
    h.advance(Duration.ofSeconds(10));
    t.expect("CONNECTING", "  AttemptingToConnect", "CONNECTING b", "  ObtainedAddress b", "CONNECTED b c2", "  Connected c2");

    h.advance(Duration.ofSeconds(30));
    h.made.get(1).drop(); // old: replaced at once
    t.expect(
        "CONNECTING b",
        "  Disconnected",
        "CONNECTING",
        "  AttemptingToConnect",
        "CONNECTING b",
        "  ObtainedAddress b",
        "CONNECTED b c3",
        "  Connected c3");

    ListenableFuture<Void> closing = pc.close();
    assertEquals(Status.CLOSED, pc.state().status());
    assertTrue(closing.isDone());
    t.expect("CLOSING b c3", "CLOSING b", "  Disconnected", "CLOSED b");
    assertEquals(4, pc.state().attempts());
  }

  @Test
  void closeInEachState_goesThroughClosingToClosed_andNothingElseHappens() {
    // Before the first round: no lookup ever runs.
    PersistentConnection<String, FakeConnection> early = h.builder().build();
    Timeline t = timeline(early);
    assertTrue(early.close().isDone());
    h.time.runDueTasks();
    t.expect("WAITING_TO_RETRY in 0ms", "CLOSING", "CLOSED");
    assertEquals(0, h.lookups);

    // Looking up: the lookup is cancelled.
    SettableFuture<String> lookup = SettableFuture.create();
    h.lookup = () -> lookup;
    PersistentConnection<String, FakeConnection> lookingUp = h.start();
    t = timeline(lookingUp);
    t.take();
    assertTrue(lookingUp.close().isDone());
    assertTrue(lookup.isCancelled());
    t.expect("CLOSING", "CLOSED");

    // Connecting: the connect is cancelled.
    SettableFuture<FakeConnection> connect = SettableFuture.create();
    h.lookup = () -> immediateFuture("a");
    h.connector = address -> connect;
    PersistentConnection<String, FakeConnection> connecting = h.start();
    t = timeline(connecting);
    t.take();
    assertTrue(connecting.close().isDone());
    assertTrue(connect.isCancelled());
    t.expect("CLOSING a", "CLOSED a");

    // A connector that ignores the cancel: closing waits for it, and its connection is closed.
    UncancellableFuture<FakeConnection> stubborn = new UncancellableFuture<>();
    h.connector = address -> stubborn;
    PersistentConnection<String, FakeConnection> ignoring = h.start();
    t = timeline(ignoring);
    t.take();
    ListenableFuture<Void> ignoringClosed = ignoring.close();
    t.expect("CLOSING a");
    assertFalse(ignoringClosed.isDone(), "the connect is still in flight");
    FakeConnection late = FakeConnection.named("late");
    stubborn.set(late);
    assertEquals(1, late.closeCalls());
    assertTrue(ignoringClosed.isDone());
    t.expect("CLOSED a");
    assertNull(ignoring.currentConnection());

    // Waiting to retry: the timer is cancelled, the failure stays in the state.
    h.lookup = () -> immediateFailedFuture(new IOException("catalog down"));
    PersistentConnection<String, FakeConnection> waiting = h.start();
    t = timeline(waiting);
    t.take();
    int lookups = h.lookups;
    assertTrue(waiting.close().isDone());
    t.expect("CLOSING fails=1 LOOKUP", "CLOSED fails=1 LOOKUP");
    h.advance(Duration.ofSeconds(60));
    assertEquals(lookups, h.lookups, "no attempt after close");

    h.events.expect( // of the five above, none after its close()
        "AttemptingToConnect",
        "AttemptingToConnect",
        "ObtainedAddress a",
        "AttemptingToConnect",
        "ObtainedAddress a",
        "AttemptingToConnect",
        "FailedToConnect LOOKUP address lookup failed: java.io.IOException: catalog down");

    // Connected, with a connection slow to close: CLOSING keeps it until its close completes.
    FakeConnection slow = FakeConnection.slowToClose("s1");
    h.lookup = () -> immediateFuture("a");
    h.connector = address -> immediateFuture(slow);
    PersistentConnection<String, FakeConnection> connected = h.start();
    t = timeline(connected);
    t.take();
    ListenableFuture<Void> closing = connected.close();
    t.expect("CLOSING a s1");
    assertFalse(closing.isDone());
    assertSame(slow, connected.currentConnection());
    slow.finishClosing();
    t.expect("CLOSING a", "  Disconnected", "CLOSED a");
    assertTrue(closing.isDone());
    h.events.expect(
        "AttemptingToConnect", "ObtainedAddress a", "Connected s1", "Disconnected"); // the only one
    assertNull(connected.currentConnection());
  }

  @Test
  void closeFinishedCallbacks_seeClosed_andStateListenersGetNothingAfterIt() {
    PersistentConnection<String, FakeConnection> pc = h.start();
    Timeline t = timeline(pc);
    t.take();
    List<Status> seen = new ArrayList<>();
    pc.closeFinished().addListener(() -> seen.add(pc.state().status()), Runnable::run);
    pc.close();
    assertEquals(List.of(Status.CLOSED), seen);
    Timeline late = timeline(pc);
    late.expect("CLOSED a", "  Disconnected");
    h.advance(Duration.ofMinutes(1));
    t.take();
    late.expect();
  }

  @Test
  void stateAfterClose_isClosingAtOnce_evenBeforeItsStepRuns() {
    SettableFuture<String> never = SettableFuture.create();
    h.lookup = () -> never;
    PersistentConnection<String, FakeConnection> pc = h.start();
    assertEquals(Status.CONNECTING, pc.state().status());
    pc.close();
    assertEquals(Status.CLOSED, pc.state().status()); // the lookup was cancelled: nothing left
  }

  @Test
  void deDuplicatedFailure_stillSetsLastFailure_andCounts() {
    h.lookup = () -> immediateFailedFuture(new IOException("catalog down"));
    PersistentConnection<String, FakeConnection> pc = h.start();
    ConnectAttemptException first = pc.state().lastFailure();
    h.advance(Duration.ofSeconds(10));
    h.events.take();
    ConnectionState<String, FakeConnection> state = pc.state();
    assertEquals(2, state.consecutiveFailures());
    assertNotSame(first, state.lastFailure(), "the second failure, though its event was de-duplicated");
    assertEquals(List.of(), h.events.take());
  }

  @Test
  void retryNow_queuedBehindTheTimersOwnStep_leavesTheNextWaitAlone() throws Exception {
    h.lookup = () -> immediateFailedFuture(new IOException("catalog down"));
    PersistentConnection<String, FakeConnection> pc = h.start();
    assertEquals(Status.WAITING_TO_RETRY, pc.state().status());
    assertEquals(1, h.lookups);

    Harness.HeldStep held = Harness.holdAStep(pc);
    h.advance(Duration.ofSeconds(10)); // the timer fires: its step is queued behind the held one
    assertTrue(pc.retryNow(), "the wait it sees has not ended yet"); // queued behind the timer's
    held.release();

    // The timer's step started the attempt; retryNow() was about the wait that ended, so it
    // neither starts another attempt nor cuts short the wait after this one's failure.
    assertEquals(2, h.lookups, "no attempt beyond the timer's");
    assertEquals(Status.WAITING_TO_RETRY, pc.state().status());
    assertEquals(Duration.ofSeconds(10), pc.state().retryIn());
  }

  @Test
  void retryNow_inEveryStatus() {
    h.lookup = () -> immediateFailedFuture(new IOException("catalog down"));
    PersistentConnection<String, FakeConnection> pc = h.builder().build();

    assertTrue(pc.retryNow(), "before the first round: it starts now");
    assertEquals(1, h.lookups);
    h.time.runDueTasks(); // the first round's own task finds it started
    assertEquals(1, h.lookups);

    assertEquals(Status.WAITING_TO_RETRY, pc.state().status());
    assertTrue(pc.retryNow(), "waiting after a failure");
    assertEquals(2, h.lookups);
    assertEquals(List.of(0, 1), h.delaysAsked, "the failure count is kept");
    h.advance(Duration.ofSeconds(9));
    assertEquals(2, h.lookups, "the cancelled timer does not fire");
    h.advance(Duration.ofSeconds(1));
    assertEquals(3, h.lookups, "the new attempt's timer does");

    SettableFuture<String> pending = SettableFuture.create();
    h.lookup = () -> pending;
    h.advance(Duration.ofSeconds(10));
    assertEquals(Status.CONNECTING, pc.state().status());
    assertFalse(pc.retryNow(), "connecting");
    pending.set("a");
    assertEquals(Status.CONNECTED, pc.state().status());
    assertFalse(pc.retryNow(), "connected");
    assertEquals(4, h.lookups);

    h.lookup = () -> immediateFuture("a");
    h.made.get(0).drop(); // young: waits
    assertEquals(Status.WAITING_TO_RETRY, pc.state().status());
    assertTrue(pc.retryNow(), "waiting after a young connection died");
    assertEquals(Status.CONNECTED, pc.state().status());
    assertSame(h.made.get(1), pc.currentConnection());

    pc.close();
    assertFalse(pc.retryNow(), "closed");
  }

  @Test
  @SuppressWarnings("NullAway") // the null is the point
  void subscribeState_null_failsNamingIt() {
    PersistentConnection<String, FakeConnection> pc = h.start();
    NullPointerException e = assertThrows(NullPointerException.class, () -> pc.subscribeState(null));
    assertEquals("listener", e.getMessage());
  }

  @Test
  void stateListenerThatThrows_isLogged_andTheOthersStillRun() {
    PersistentConnection<String, FakeConnection> pc = h.builder().build();
    pc.subscribeState(
        state -> {
          throw new IllegalStateException("listener bug");
        });
    Timeline t = timeline(pc);
    h.time.runDueTasks();
    assertEquals(Status.CONNECTED, t.states.get(t.states.size() - 1).status());
    assertTrue(
        h.logger.lines().stream().anyMatch(line -> line.message().contains("state listener") && line.message().contains("threw")),
        String.valueOf(h.logger.lines()));
  }

  @Test
  void closedSubscription_getsNothingMore() {
    PersistentConnection<String, FakeConnection> pc = h.start();
    List<Status> seen = new ArrayList<>();
    Subscription subscription = pc.subscribeState(state -> seen.add(state.status()));
    subscription.close();
    h.made.get(0).drop();
    assertEquals(List.of(Status.CONNECTED), seen);
  }

  @Test
  void boundedWaitForAConnection_timesOutNamingTheServerTheStateAndTheLastFailure() {
    h.lookup = () -> immediateFailedFuture(new IOException("catalog down"));
    PersistentConnection<String, FakeConnection> pc = h.start();
    h.advance(Duration.ofMillis(1800));

    java.util.concurrent.TimeoutException timeout =
        assertThrows(
            java.util.concurrent.TimeoutException.class,
            () -> pc.connected().get(0, java.util.concurrent.TimeUnit.NANOSECONDS));

    String message = String.valueOf(timeout.getMessage());
    assertTrue(
        message.contains(
            "waiting for a connection to orders; waiting to retry, next attempt in 8.2 s;"
                + " the last attempt failed: address lookup failed: java.io.IOException: catalog down"),
        message);
  }

  @Test
  void disconnectedLogLine_saysWhenTheNextAttemptComes() {
    PersistentConnection<String, FakeConnection> pc = h.start();
    h.logger.take();
    h.made.get(0).drop(); // young
    h.advance(Duration.ofSeconds(10));
    h.advance(Duration.ofSeconds(30));
    h.made.get(1).drop(); // old
    pc.close();
    List<String> disconnected =
        h.logger.take().stream()
            .map(line -> line.message())
            .filter(line -> line.contains("disconnected"))
            .toList();
    assertEquals(
        List.of(
            "Persistent connection to orders: disconnected; next attempt in 10.0 s",
            "Persistent connection to orders: disconnected; reconnecting now",
            "Persistent connection to orders: disconnected; closing"),
        disconnected);
  }

  @Test
  void stateInWords_tellsWhatTheLoopDoes_andWhy() {
    PersistentConnection<String, FakeConnection> pc = h.start();
    assertEquals("connected to a", dev.tether.internal.StateText.describe(pc.state()));
    h.made.get(0).drop(); // young: waits
    h.advance(Duration.ofMillis(1800));
    assertEquals(
        "waiting to retry, next attempt in 8.2 s; the last connection to a dropped",
        dev.tether.internal.StateText.describe(pc.state()));
  }

  @Test
  void stateListenerThatCloses_stopsTheStep_noEventOrLookupAfterClose() {
    PersistentConnection<String, FakeConnection> first = h.builder().build();
    first.subscribeState(s -> {
      if (s.status() == Status.CONNECTING) {
        first.close();
      }
    });
    h.time.runDueTasks();
    h.events.expect(); // no AttemptingToConnect after close()
    assertEquals(0, h.lookups);
    assertTrue(first.closeFinished().isDone());

    Harness retry = new Harness();
    retry.lookup = () -> immediateFailedFuture(new IOException("down"));
    PersistentConnection<String, FakeConnection> second = retry.start();
    second.subscribeState(s -> {
      if (s.status() == Status.CONNECTING) {
        second.close();
      }
    });
    retry.advance(Duration.ofSeconds(10));
    assertEquals(1, retry.lookups, "no lookup after close()");

    Harness address = new Harness();
    PersistentConnection<String, FakeConnection> third = address.builder().build();
    third.subscribeState(s -> {
      if (s.address() != null) {
        third.close();
      }
    });
    address.time.runDueTasks();
    address.events.expect("AttemptingToConnect"); // no ObtainedAddress after close()
    assertTrue(third.closeFinished().isDone());
  }
}
