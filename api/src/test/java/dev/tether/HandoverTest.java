package dev.tether;

import static com.google.common.util.concurrent.Futures.immediateFailedFuture;
import static com.google.common.util.concurrent.Futures.immediateFuture;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.common.util.concurrent.Futures;
import com.google.common.util.concurrent.ListenableFuture;
import com.google.common.util.concurrent.MoreExecutors;
import com.google.common.util.concurrent.SettableFuture;
import dev.tether.ConnectAttemptException.Stage;
import dev.tether.ConnectionState.Status;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.function.Function;
import org.junit.jupiter.api.Test;
import org.slf4j.event.Level;

/** DESIGN 7.5: handOver(), make before break, on virtual time. */
class HandoverTest {
  private final Harness h = new Harness();
  /** Where the lookup points; the handover's lookup reads it too. */
  private volatile String address = "a";

  private PersistentConnection<String, FakeConnection> connectedTo(String first) {
    address = first;
    h.lookup = () -> immediateFuture(address);
    PersistentConnection<String, FakeConnection> pc = h.start();
    h.events.expect("AttemptingToConnect", "ObtainedAddress " + first, "Connected c1");
    return pc;
  }

  private static Throwable failureOf(ListenableFuture<?> future) {
    ExecutionException e = assertThrows(ExecutionException.class, future::get);
    return java.util.Objects.requireNonNull(e.getCause());
  }

  @Test
  void handOver_switchesInOneStep_withTheEventsOfARound_thenClosesTheOldConnection() {
    PersistentConnection<String, FakeConnection> pc = connectedTo("a");
    FakeConnection old = h.made.get(0);
    List<String> seen = new ArrayList<>();
    Subscription unused =
        pc.subscribe(
            event ->
                seen.add(
                    RecordingListener.describe(event)
                        + " current=" + pc.currentConnection()
                        + " oldClosed=" + old.isClosed()));
    seen.clear(); // a new subscriber gets the last event first
    List<String> states = new ArrayList<>();
    pc.subscribeState(state -> states.add(StateTest.describe(state)));
    states.clear();
    address = "b";

    ListenableFuture<FakeConnection> handedOver = pc.handOver();
    List<Integer> closeCallsAtCompletion = new ArrayList<>();
    handedOver.addListener(
        () -> closeCallsAtCompletion.add(old.closeCalls()), MoreExecutors.directExecutor());

    FakeConnection next = h.made.get(1);
    assertSame(next, Harness.done(handedOver));
    assertEquals(
        List.of(
            "Disconnected current=c2 oldClosed=false",
            "AttemptingToConnect current=c2 oldClosed=false",
            "ObtainedAddress b current=c2 oldClosed=false",
            "Connected c2 current=c2 oldClosed=false"),
        seen);
    assertEquals(List.of("CONNECTED b c2"), states, "one CONNECTED state, before the events");
    assertEquals(List.of(1), closeCallsAtCompletion, "closed after the events, before the future completes");
    h.advance(Duration.ofSeconds(10));
    assertEquals(1, old.closeCalls());
    assertSame(next, pc.currentConnection());
    ConnectionState<String, FakeConnection> state = pc.state();
    assertEquals(2, state.attempts());
    assertEquals(2, state.connections());
  }

  @Test
  void aCallbackOfTheFutureThatThrowsAnError_doesNotStrandTheRoundAfterADrop() {
    PersistentConnection<String, FakeConnection> pc = connectedTo("a");
    h.advance(Duration.ofSeconds(30)); // c1 outlived its timer
    h.connector = a -> SettableFuture.create(); // the handover's connect hangs
    address = "b";
    ListenableFuture<FakeConnection> handedOver = pc.handOver();
    handedOver.addListener(
        () -> {
          throw new AssertionError("an assertion in a callback");
        },
        MoreExecutors.directExecutor());
    h.connector = a -> immediateFuture(h.newConnection());

    h.made.get(0).drop();

    h.events.expect("Disconnected", "AttemptingToConnect", "ObtainedAddress b", "Connected c2");
    assertInstanceOf(ExecutionException.class, assertThrows(ExecutionException.class, handedOver::get));
  }

  @Test
  void aCallbackOfAFailedHandoverThatThrowsAnError_leavesLaterHandoversWorking() {
    PersistentConnection<String, FakeConnection> pc = connectedTo("a");
    SettableFuture<String> lookup = SettableFuture.create();
    h.lookup = () -> lookup;
    ListenableFuture<FakeConnection> failing = pc.handOver();
    failing.addListener(
        () -> {
          throw new AssertionError("an assertion in a callback");
        },
        MoreExecutors.directExecutor());
    lookup.setException(new IOException("catalog down"));
    assertInstanceOf(ConnectAttemptException.class, failureOf(failing));

    address = "b";
    h.lookup = () -> immediateFuture(address);
    ListenableFuture<FakeConnection> next = pc.handOver();

    assertSame(h.made.get(1), Harness.done(next));
    assertEquals("b", pc.state().address());
  }

  /** Connected to {@code old} at "a", then handed over to a new connection at "b". */
  private PersistentConnection<String, FakeConnection> handedOverFrom(FakeConnection.Retiring old) {
    h.connector = a -> immediateFuture(old);
    h.lookup = () -> immediateFuture(address);
    PersistentConnection<String, FakeConnection> pc = h.start();
    h.events.expect("AttemptingToConnect", "ObtainedAddress a", "Connected r1");
    h.connector = a -> immediateFuture(FakeConnection.named("n"));
    address = "b";
    Harness.done(pc.handOver());
    return pc;
  }

  @Test
  void aRetirableOldConnection_isRetired_andClosingTheLoopEndsItsRetirement() {
    FakeConnection.Retiring old = new FakeConnection.Retiring("r1");
    PersistentConnection<String, FakeConnection> pc = handedOverFrom(old);
    assertEquals(1, old.retireCalls(), "retired in the switching step");
    assertEquals(0, old.closeCalls());
    assertTrue(old.isClosed());

    ListenableFuture<Void> closing = pc.close();
    assertEquals(1, old.closeCalls(), "closing the loop closes it at once");
    assertTrue(closing.isDone(), "and waits for it: done once it closed");
  }

  @Test
  void aRetirementThatEndedByItself_isNotClosedAgain() {
    FakeConnection.Retiring old = new FakeConnection.Retiring("r1");
    PersistentConnection<String, FakeConnection> pc = handedOverFrom(old);

    old.finishClosing();
    ListenableFuture<Void> closing = pc.close();
    assertEquals(0, old.closeCalls(), "closed already: nothing to end");
    assertTrue(closing.isDone());
  }

  @Test
  void whileTheBackgroundAttemptRuns_theOldConnectionServes_andNothingIsEmitted() {
    PersistentConnection<String, FakeConnection> pc = connectedTo("a");
    SettableFuture<FakeConnection> connect = SettableFuture.create();
    h.connector = a -> connect;
    address = "b";

    ListenableFuture<FakeConnection> handedOver = pc.handOver();

    assertFalse(handedOver.isDone());
    assertSame(handedOver, pc.handOver(), "a call while in flight returns the same future");
    assertFalse(handedOver.cancel(false), "it ignores cancel()");
    assertSame(h.made.get(0), pc.currentConnection());
    assertEquals(Status.CONNECTED, pc.state().status());
    assertEquals("a", pc.state().address());
    h.events.expect();

    FakeConnection next = FakeConnection.named("n");
    connect.set(next);
    assertSame(next, Harness.done(handedOver));
    h.events.expect("Disconnected", "AttemptingToConnect", "ObtainedAddress b", "Connected n");
    pc.close(); // closes the old one at once, without waiting for its grace
    assertEquals(1, h.made.get(0).closeCalls());
    assertEquals("b", pc.state().address());
    assertTrue(pc.closeFinished().isDone());
  }

  @Test
  void failedHandover_changesNothing_logsAtWarn_andFailsItsFuture() {
    PersistentConnection<String, FakeConnection> pc = connectedTo("a");
    address = "b";
    h.connector = a -> immediateFailedFuture(new IOException("refused"));

    ListenableFuture<FakeConnection> handedOver = pc.handOver();

    ConnectAttemptException error = assertInstanceOf(ConnectAttemptException.class, failureOf(handedOver));
    assertEquals(Stage.CONNECT, error.stage());
    h.events.expect();
    assertSame(h.made.get(0), pc.currentConnection());
    assertEquals(0, h.made.get(0).closeCalls());
    ConnectionState<String, FakeConnection> state = pc.state();
    assertEquals(Status.CONNECTED, state.status());
    assertEquals("a", state.address());
    assertNull(state.lastFailure(), "a background failure leaves lastFailure alone");
    assertEquals(0, state.consecutiveFailures());
    assertEquals(2, state.attempts());
    assertTrue(
        h.logger.lines().stream()
            .anyMatch(l -> l.level() == Level.WARN && l.message().contains("handover failed")),
        h.logger.lines().toString());
    assertTrue(
        pc.handOver() != handedOver, "once it is over, the next call starts another handover");
  }

  @Test
  void lookupYieldingTheCurrentAddress_changesNothing_andCompletesWithTheCurrentConnection() {
    PersistentConnection<String, FakeConnection> pc = connectedTo("a");
    int connects = h.connects;

    assertSame(h.made.get(0), Harness.done(pc.handOver()));

    assertEquals(connects, h.connects, "no connect");
    h.events.expect();
    assertEquals(0, h.made.get(0).closeCalls());
  }

  @Test
  void dropDuringTheHandover_abandonsIt_runsTheNormalRound_andClosesWhatItMade() {
    PersistentConnection<String, FakeConnection> pc = connectedTo("a");
    h.advance(Duration.ofSeconds(30));
    UncancellableConnect connect = new UncancellableConnect();
    h.connector = connect;
    address = "b";
    ListenableFuture<FakeConnection> handedOver = pc.handOver();

    h.connector = a -> immediateFuture(h.newConnection());
    h.made.get(0).drop();

    assertInstanceOf(IllegalStateException.class, failureOf(handedOver));
    h.events.expect(
        "Disconnected", "AttemptingToConnect", "ObtainedAddress b", "Connected c2");
    FakeConnection late = FakeConnection.named("late");
    connect.future.set(late); // the connector ignored the cancel
    assertEquals(1, late.closeCalls(), "the abandoned handover's connection is closed");
    assertEquals("c2", String.valueOf(pc.currentConnection()));
  }

  @Test
  void notConnected_takesTheNextOutcome_andStopsWaitingAsRetryNowDoes() {
    h.lookup = () -> immediateFailedFuture(new IOException("catalog down"));
    PersistentConnection<String, FakeConnection> pc = h.start();
    assertEquals(Status.WAITING_TO_RETRY, pc.state().status());
    h.lookup = () -> immediateFuture("a");

    ListenableFuture<FakeConnection> handedOver = pc.handOver();

    assertSame(h.made.get(0), Harness.done(handedOver), "no wait for the timer");
  }

  @Test
  void afterClose_failsAtOnce() {
    PersistentConnection<String, FakeConnection> pc = connectedTo("a");
    pc.close();
    ListenableFuture<FakeConnection> handedOver = pc.handOver();
    assertTrue(handedOver.isDone());
    assertInstanceOf(IllegalStateException.class, failureOf(handedOver));
  }

  @Test
  void closeDuringTheHandover_failsIt_andClosesItsConnection() {
    PersistentConnection<String, FakeConnection> pc = connectedTo("a");
    SettableFuture<Object> initializing = SettableFuture.create();
    Function<FakeConnection, ListenableFuture<?>> initializer =
        c -> c.toString().equals("c1") ? immediateFuture(null) : initializing;
    // A second persistent connection with an initializer that holds the handover's connection.
    Harness h2 = new Harness();
    h2.lookup = () -> immediateFuture(address);
    PersistentConnection<String, FakeConnection> pc2 =
        h2.builder().initializer(initializer::apply).build();
    h2.time.runDueTasks();
    address = "b";
    ListenableFuture<FakeConnection> handedOver = pc2.handOver();
    assertFalse(handedOver.isDone());

    ListenableFuture<Void> closing = pc2.close();

    assertInstanceOf(IllegalStateException.class, failureOf(handedOver));
    assertTrue(initializing.isCancelled());
    assertEquals(1, h2.made.get(1).closeCalls(), "the handover's connection is closed");
    assertTrue(closing.isDone());
    h2.events.expect("AttemptingToConnect", "ObtainedAddress a", "Connected c1", "Disconnected");
    pc.close();
  }

  @Test
  void handoverWhoseInitializerFails_closesItsConnection_andChangesNothing() {
    h.lookup = () -> immediateFuture(address);
    PersistentConnection<String, FakeConnection> pc =
        h.builder()
            .initializer(
                c ->
                    c.toString().equals("c1")
                        ? immediateFuture(null)
                        : immediateFailedFuture(new IOException("not serving")))
            .build();
    h.time.runDueTasks();
    h.events.take();
    address = "b";

    ConnectAttemptException error =
        assertInstanceOf(ConnectAttemptException.class, failureOf(pc.handOver()));

    assertEquals(Stage.INITIALIZE, error.stage());
    assertEquals(1, h.made.get(1).closeCalls());
    assertSame(h.made.get(0), pc.currentConnection());
    h.events.expect();
  }

  @Test
  void aHandedOverConnectionThatDropsYoung_waitsOutItsAttemptsDelay_thenReconnects() {
    PersistentConnection<String, FakeConnection> pc = connectedTo("a");
    address = "b";
    Harness.done(pc.handOver());
    h.advance(Duration.ofSeconds(3));
    h.events.take();

    h.made.get(1).drop(); // 3 s old: the rest of the handover attempt's 10 s

    h.events.expect("Disconnected");
    assertEquals(Status.WAITING_TO_RETRY, pc.state().status());
    h.advance(Duration.ofSeconds(7));
    h.events.expect("AttemptingToConnect", "ObtainedAddress b", "Connected c3");
  }

  @Test
  void connectedAskedDuringTheSwitch_completesWithTheNewConnectionAfterItsConnected() {
    PersistentConnection<String, FakeConnection> pc = connectedTo("a");
    List<ListenableFuture<FakeConnection>> asked = new ArrayList<>();
    List<String> seen = new ArrayList<>();
    Subscription unused =
        pc.subscribe(
            event -> {
              String name = RecordingListener.describe(event);
              if (name.startsWith("Disconnected")) {
                asked.add(pc.connected()); // the new connection is current, not yet announced
                asked.add(pc.connectedOrFailedToConnect());
              }
              if (!asked.isEmpty()) {
                seen.add(name + " done=" + asked.get(0).isDone() + "," + asked.get(1).isDone());
              }
            });
    address = "b";

    FakeConnection next = Harness.done(pc.handOver());
    assertEquals(
        List.of(
            "Disconnected done=false,false",
            "AttemptingToConnect done=false,false",
            "ObtainedAddress b done=false,false",
            "Connected c2 done=false,false"),
        seen);
    assertSame(next, Harness.done(asked.get(0)));
    assertSame(next, Harness.done(asked.get(1)));
  }

  @Test
  void closeFromAListenerDuringTheSwitch_closesTheOldConnectionAtOnce() {
    for (String closer : List.of("Disconnected", "AttemptingToConnect", "ObtainedAddress", "Connected")) {
      Harness h = new Harness();
      h.lookup = () -> immediateFuture(address);
      address = "a";
      java.util.Queue<String> problems = new java.util.concurrent.ConcurrentLinkedQueue<>();
      PersistentConnection<String, FakeConnection> pc =
          h.builder()
              .onEvent(new EventGrammar<>(closer, true, problems, new java.util.concurrent.atomic.AtomicInteger()))
              .build();
      h.time.runDueTasks();
      Subscription unused =
          pc.subscribe(
              event -> {
                if (RecordingListener.describe(event).startsWith(closer)
                    && pc.currentConnection() != h.made.get(0)) {
                  pc.close();
                }
              });
      address = "b";
      ListenableFuture<FakeConnection> handedOver = pc.handOver();

      assertTrue(pc.closeFinished().isDone(), closer + ": no wait for the grace");
      assertEquals(1, h.made.get(0).closeCalls(), closer);
      assertEquals(1, h.made.get(1).closeCalls(), closer);
      assertTrue(handedOver.isDone(), closer);
      assertInstanceOf(IllegalStateException.class, failureOf(handedOver), closer + ": closed meanwhile");
      assertEquals(List.of(), List.copyOf(problems), closer + ": well-formed");
      List<String> events = h.events.take();
      // Nothing after the event whose listener closed, but the new connection's Disconnected.
      String last = closer.equals("Connected") ? "Disconnected" : closer;
      assertTrue(events.get(events.size() - 1).startsWith(last), closer + ": " + events);
    }
  }

  @Test
  void notConnected_withALookupThatThrows_failsWithThatAttempt() {
    h.lookup = () -> immediateFailedFuture(new IOException("catalog down"));
    PersistentConnection<String, FakeConnection> pc = h.start();
    h.lookup =
        () -> {
          throw new IOException("catalog still down");
        };

    ListenableFuture<FakeConnection> handedOver = pc.handOver();

    assertTrue(handedOver.isDone(), "the outcome of the attempt it started, not a later one");
    ConnectAttemptException error =
        assertInstanceOf(ConnectAttemptException.class, failureOf(handedOver));
    assertTrue(String.valueOf(error.getMessage()).contains("catalog still down"));
  }

  @Test
  void handoverAfterHandover_eachStartsItsOwn() {
    PersistentConnection<String, FakeConnection> pc = connectedTo("a");
    address = "b";
    ListenableFuture<FakeConnection> first = pc.handOver();
    address = "c";
    ListenableFuture<FakeConnection> second = pc.handOver();
    assertTrue(first != second);
    assertEquals("c3", String.valueOf(Harness.done(second)));
    assertEquals("c", pc.state().address());
  }

  /** A connector whose future ignores cancel(), as a careless one might. */
  private static final class UncancellableConnect implements Connector<String, FakeConnection> {
    final dev.tether.internal.UncancellableFuture<FakeConnection> future =
        new dev.tether.internal.UncancellableFuture<>();

    @Override
    public ListenableFuture<FakeConnection> connect(String address) {
      return future;
    }
  }

  /** What a gRPC channel that follows the connection reads, to let calls made meanwhile move. */
  private static boolean inFlight(PersistentConnection<String, FakeConnection> pc) {
    return ((dev.tether.internal.Handovers) pc).handoverInFlight();
  }

  @Test
  void handoverInFlight_fromHandOverUntilTheSwitch_orTheFailure_orTheSameAddress() {
    PersistentConnection<String, FakeConnection> pc = connectedTo("a");
    assertFalse(inFlight(pc));
    SettableFuture<FakeConnection> connect = SettableFuture.create();
    h.connector = a -> connect;
    address = "b";

    ListenableFuture<FakeConnection> switched = pc.handOver();
    assertTrue(inFlight(pc), "from handOver() on");
    connect.set(FakeConnection.named("n"));
    assertEquals("n", Harness.done(switched).toString());
    assertFalse(inFlight(pc), "after the switch");

    h.connector = a -> immediateFailedFuture(new IOException("refused"));
    address = "c";
    failureOf(pc.handOver());
    assertFalse(inFlight(pc), "after a failed handover");

    address = "b"; // the current address
    Harness.done(pc.handOver());
    assertFalse(inFlight(pc), "after a handover that found the current address");
  }
}
