package dev.tether;

import static com.google.common.util.concurrent.Futures.immediateFailedFuture;
import static com.google.common.util.concurrent.Futures.immediateFuture;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.common.util.concurrent.ListenableFuture;
import com.google.common.util.concurrent.SettableFuture;
import dev.tether.ConnectionState.Status;
import dev.tether.internal.AttemptObserver;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.Test;
import org.slf4j.event.Level;

/** The attempt observers that Tether's metrics use: every attempt, of every kind, told once. */
class AttemptObserverTest {
  private final Harness h = new Harness();
  /** What the observer was told, in order, with what the event listener had seen by then. */
  private final List<String> told = new ArrayList<>();

  /**
   * An observer that records each start and outcome, with the count of events delivered by then;
   * an attempt it joins late is "joined".
   */
  private AttemptObserver recording(String name) {
    return new AttemptObserver() {
      @Override
      public Outcome started() {
        told.add(name + " started after " + h.events.events().size() + " events");
        return outcome(name);
      }

      @Override
      public Outcome joinedLate() {
        return outcome(name + " joined");
      }
    };
  }

  private AttemptObserver.Outcome outcome(String name) {
    return new AttemptObserver.Outcome() {
      @Override
      public void succeeded() {
        told.add(name + " succeeded after " + h.events.events().size() + " events");
      }

      @Override
      public void failed(ConnectAttemptException error) {
        told.add(name + " failed " + error.stage() + " after " + h.events.events().size() + " events");
      }
    };
  }

  /** An observer whose every method throws {@code thrown}. */
  private static AttemptObserver throwing(RuntimeException thrown) {
    return new AttemptObserver() {
      @Override
      public Outcome started() {
        throw thrown;
      }

      @Override
      public Outcome joinedLate() {
        throw thrown;
      }
    };
  }

  private static AttemptObserver.Source source(PersistentConnection<?, ?> connection) {
    return (AttemptObserver.Source) connection;
  }

  @Test
  void everyAttemptOfEveryKind_isToldOnce_beforeItsEventIsDelivered() {
    Deque<String> answers = new ArrayDeque<>(List.of("refused", "a", "refused", "b", "c"));
    h.lookup = () -> immediateFuture(answers.isEmpty() ? "d" : answers.poll());
    h.connector =
        address ->
            address.equals("refused")
                ? immediateFailedFuture(new IllegalStateException("refused"))
                : immediateFuture(h.newConnection());
    PersistentConnection<String, FakeConnection> pc = h.builder().standby(true).build();
    Subscription observing = source(pc).observeAttempts(recording("o"));
    h.time.runDueTasks(); // the round's attempt is refused
    h.advance(Harness.seconds(10)); // the next connects to "a"; the standby's first is refused
    h.advance(Harness.seconds(10)); // the standby's next connects to "b"
    assertEquals(Status.CONNECTED, pc.state().status());
    assertEquals("b", pc.state().standbyAddress());
    assertEquals(
        List.of(
            "o started after 1 events", // AttemptingToConnect
            "o failed CONNECT after 2 events", // ObtainedAddress; before its FailedToConnect
            "o started after 3 events", // the retry, in the same round
            "o succeeded after 4 events", // ObtainedAddress; before its Connected
            "o started after 5 events", // the standby: no events
            "o failed CONNECT after 5 events",
            "o started after 5 events",
            "o succeeded after 5 events"),
        told);
    assertEquals(4, pc.state().attempts());

    told.clear();
    observing.close();
    h.made.get(0).drop(); // the standby takes over: no attempt; the next standby's attempt
    assertEquals(5, pc.state().attempts());
    assertEquals(List.of(), told, "closed: told of no new attempt");
    pc.close();
  }

  @Test
  void anAttemptThatStopsWithNeitherConnectionNorError_isNotToldOfAnEnd() {
    SettableFuture<String> lookup = SettableFuture.create();
    h.lookup = () -> lookup;
    PersistentConnection<String, FakeConnection> pc = h.builder().build();
    Subscription observing = source(pc).observeAttempts(recording("o"));
    h.time.runDueTasks();
    pc.close(); // cancels the lookup
    h.time.runDueTasks();
    assertEquals(Status.CLOSED, pc.state().status());
    assertEquals(List.of("o started after 1 events"), told);
    observing.close();
  }

  @Test
  void anObserverThatThrows_isLogged_andNeitherTheLoopNorTheOtherObserversNotice() {
    PersistentConnection<String, FakeConnection> pc = h.builder().build();
    Subscription throwsAtStart =
        source(pc).observeAttempts(throwing(new IllegalStateException("observer broke at the start")));
    Subscription throwsAtTheEnd =
        source(pc)
            .observeAttempts(
                new AttemptObserver() {
                  @Override
                  public Outcome started() {
                    return new Outcome() {
                      @Override
                      public void succeeded() {
                        throw new AssertionError("observer broke at the end");
                      }

                      @Override
                      public void failed(ConnectAttemptException error) {
                        throw new AssertionError("observer broke at the end");
                      }
                    };
                  }

                  @Override
                  public @Nullable Outcome joinedLate() {
                    return null;
                  }
                });
    Subscription observing = source(pc).observeAttempts(recording("o"));
    h.time.runDueTasks();
    h.events.expect("AttemptingToConnect", "ObtainedAddress a", "Connected c1");
    assertEquals(List.of("o started after 1 events", "o succeeded after 2 events"), told);
    List<String> warnings =
        h.logger.lines().stream()
            .filter(line -> line.level() == Level.WARN)
            .map(line -> String.valueOf(line.cause()))
            .toList();
    assertTrue(
        warnings.contains("java.lang.IllegalStateException: observer broke at the start"), warnings::toString);
    assertTrue(warnings.contains("java.lang.AssertionError: observer broke at the end"), warnings::toString);
    throwsAtStart.close();
    throwsAtTheEnd.close();
    observing.close();
    pc.close();
  }

  @Test
  void handoverAttempts_areToldOfSuccessAndFailure_butNotWhenTheLookupFindsTheCurrentAddress() {
    Deque<String> answers = new ArrayDeque<>(List.of("a", "a", "b", "refused"));
    h.lookup = () -> immediateFuture(answers.isEmpty() ? "c" : answers.poll());
    h.connector =
        address ->
            address.equals("refused")
                ? immediateFailedFuture(new IllegalStateException("refused"))
                : immediateFuture(h.newConnection());
    PersistentConnection<String, FakeConnection> pc = h.builder().build();
    Subscription observing = source(pc).observeAttempts(recording("o"));
    h.time.runDueTasks(); // 3 events: AttemptingToConnect, ObtainedAddress a, Connected
    told.clear();

    ListenableFuture<FakeConnection> same = pc.handOver(); // finds "a": nothing changes
    assertSame(h.made.get(0), Harness.done(same));
    assertEquals(List.of("o started after 3 events"), told, "found the current address: no end");
    told.clear();

    ListenableFuture<FakeConnection> moved = pc.handOver(); // "b": switches
    assertSame(h.made.get(1), Harness.done(moved));
    // Told before the switch's four events.
    assertEquals(List.of("o started after 3 events", "o succeeded after 3 events"), told);
    told.clear();

    ListenableFuture<FakeConnection> refused = pc.handOver(); // fails: nothing changes
    assertTrue(refused.isDone());
    assertEquals(List.of("o started after 7 events", "o failed CONNECT after 7 events"), told);
    assertEquals(4, pc.state().attempts());
    observing.close();
    pc.close();
  }

  @Test
  void aConnectionThatClosesDuringItsInitialization_isToldAsAFailureAtThatStage() {
    SettableFuture<Object> initialized = SettableFuture.create();
    PersistentConnection<String, FakeConnection> pc =
        h.builder().initializer(connection -> initialized).build();
    Subscription observing = source(pc).observeAttempts(recording("o"));
    h.time.runDueTasks();
    h.made.get(0).drop(); // before its initializer completes
    assertEquals(List.of("o started after 1 events", "o failed INITIALIZE after 2 events"), told);
    observing.close();
    pc.close();
  }

  @Test
  void anObserverAddedDuringAnAttempt_isToldOfItsEnd_andOneRemovedDuringIt_tooIfToldOfItsStart() {
    SettableFuture<String> lookup = SettableFuture.create();
    h.lookup = () -> lookup;
    PersistentConnection<String, FakeConnection> pc = h.builder().build();
    Subscription early = source(pc).observeAttempts(recording("early"));
    h.time.runDueTasks();
    Subscription late = source(pc).observeAttempts(recording("late"));
    early.close(); // after the start it was told of
    lookup.set("a");
    assertEquals(
        List.of(
            "early started after 1 events",
            "early succeeded after 2 events",
            "late joined succeeded after 2 events"),
        told);
    late.close();
    pc.close();
  }

  @Test
  void anOutcomeThatComesAfterCloseWasCalled_isNotTold() throws Exception {
    SettableFuture<FakeConnection> connect = SettableFuture.create();
    h.connector = address -> connect;
    PersistentConnection<String, FakeConnection> pc = h.builder().build();
    Subscription observing = source(pc).observeAttempts(recording("o"));
    h.time.runDueTasks();
    Harness.HeldStep held = Harness.holdAStep(pc);
    connect.set(h.newConnection()); // its step queues behind the held one
    ListenableFuture<Void> closed = pc.close(); // and close()'s behind it
    held.release();
    assertTrue(closed.isDone());
    assertEquals(List.of("o started after 1 events"), told, "ended after close(): not told");
    assertTrue(h.made.get(0).isClosed(), "never handed out, closed");
    observing.close();
  }
}
