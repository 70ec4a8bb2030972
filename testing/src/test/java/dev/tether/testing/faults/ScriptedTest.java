package dev.tether.testing.faults;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tether.ConnectAttemptException;
import dev.tether.ConnectionState;
import dev.tether.Event;
import dev.tether.PersistentConnection;
import dev.tether.testing.IdleConnection;
import dev.tether.testing.VirtualTimeScheduler;
import java.io.IOException;
import java.net.ConnectException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Scripted lookups and connectors driving a persistent connection on virtual time. */
class ScriptedTest {
  private final VirtualTimeScheduler scheduler = VirtualTimeScheduler.create();
  private final List<String> events = new ArrayList<>();

  private PersistentConnection<String, IdleConnection> connection(
      ScriptedLookup<String> lookup, ScriptedConnector<String> connector) {
    return PersistentConnection.<String, IdleConnection>builder("svc")
        .addressLookup(lookup)
        .connector(connector)
        .retryDelay(Duration.ofSeconds(1))
        .randomizeRetryDelay(false)
        .scheduler(scheduler)
        .onEvent(event -> events.add(describe(event)))
        .build();
  }

  private static String describe(Event<String, IdleConnection> event) {
    if (event instanceof Event.ObtainedAddress<String, IdleConnection> obtained) {
      return "ObtainedAddress " + obtained.address();
    }
    if (event instanceof Event.FailedToConnect<String, IdleConnection> failed) {
      return "FailedToConnect " + ((ConnectAttemptException) failed.error()).stage();
    }
    return event.getClass().getSimpleName();
  }

  @Test
  void stepsAddedAfterTheScriptRanPastItsEnd_comeNext_noneSkipped() throws Exception {
    ScriptedLookup<String> lookup = ScriptedLookup.<String>on(scheduler).answer("a");
    List<String> answers = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      answers.add(lookup.lookup().get()); // "a", then "a" again past the end
    }
    lookup.answer("b").answer("c");
    for (int i = 0; i < 3; i++) {
      answers.add(lookup.lookup().get());
    }
    assertEquals(List.of("a", "a", "a", "b", "c", "c"), answers);
  }

  @Test
  void aScript_playsInOrder_andRecordsWhatWasAsked() {
    ScriptedLookup<String> lookup =
        ScriptedLookup.<String>on(scheduler)
            .fail(new IOException("catalog down"))
            .answerAfter(Duration.ofMillis(500), "a")
            .answer("b");
    ScriptedConnector<String> connector =
        ScriptedConnector.<String>on(scheduler).refuse().dropAfter(Duration.ofSeconds(5)).succeed();
    PersistentConnection<String, IdleConnection> connection = connection(lookup, connector);
    scheduler.runDueTasks(); // lookup 1 fails
    scheduler.advance(Duration.ofSeconds(1)); // lookup 2 answers "a" 500 ms later
    scheduler.advance(Duration.ofMillis(500)); // connect 1 refused
    scheduler.advance(Duration.ofSeconds(1)); // lookup 3: "b"; connect 2: drops after 5 s
    assertEquals(ConnectionState.Status.CONNECTED, connection.state().status());
    scheduler.advance(Duration.ofSeconds(5)); // dropped; an old connection: lookup 4 "b", connect 3
    assertEquals(ConnectionState.Status.CONNECTED, connection.state().status());

    assertEquals(
        List.of(
            "AttemptingToConnect",
            "FailedToConnect LOOKUP",
            "ObtainedAddress a",
            "FailedToConnect CONNECT",
            "ObtainedAddress b",
            "Connected",
            "Disconnected",
            "AttemptingToConnect",
            "ObtainedAddress b",
            "Connected"),
        events);
    assertEquals(4, lookup.asked());
    assertEquals(List.of("a", "b", "b"), connector.addresses());
    assertEquals(2, connector.connections().size());
    assertTrue(connector.connections().get(0).isClosed());
    ConnectAttemptException refused = (ConnectAttemptException) connection.state().lastFailure();
    assertTrue(refused == null, "reset by the success");
    connection.close();
  }

  @Test
  void aHangingStep_isCancelledByClose_andThatIsRecorded() {
    ScriptedLookup<String> lookup = ScriptedLookup.<String>on(scheduler).answer("a");
    ScriptedConnector<String> connector = ScriptedConnector.<String>on(scheduler).hang();
    PersistentConnection<String, IdleConnection> connection = connection(lookup, connector);
    scheduler.runDueTasks();
    assertEquals(ConnectionState.Status.CONNECTING, connection.state().status());
    connection.close();
    assertTrue(connector.answers().get(0).isCancelled());
    assertTrue(connection.closeFinished().isDone());
  }

  @Test
  void aDropThatCannotBeScheduled_failsTheConnect_andRecordsNoConnection() {
    ScriptedConnector<String> connector =
        ScriptedConnector.<String>on(scheduler).dropAfter(Duration.ofSeconds(1));
    scheduler.shutdown(); // the drop's timer is refused

    Exception e = assertThrows(Exception.class, () -> connector.connect("x").get());

    assertInstanceOf(java.util.concurrent.RejectedExecutionException.class, e.getCause());
    assertEquals(List.of(), connector.connections(), "a connection that was never handed out");
  }

  @Test
  void pastTheEnd_theLastStepRepeats_andAnEmptyScriptSaysSo() throws Exception {
    ScriptedConnector<String> connector = ScriptedConnector.<String>on(scheduler).refuse();
    for (int i = 0; i < 3; i++) {
      Exception e = assertThrows(Exception.class, () -> connector.connect("x").get());
      assertInstanceOf(ConnectException.class, e.getCause());
    }
    IllegalStateException empty =
        assertThrows(IllegalStateException.class, () -> ScriptedLookup.<String>on(scheduler).lookup());
    assertEquals("the script of the lookup has no step", empty.getMessage());
  }

  @Test
  @SuppressWarnings("NullAway") // null on purpose
  void badDelays_failWhenTheScriptIsWritten_namingTheDelay() {
    Duration negative = Duration.ofMillis(-1);
    ScriptedLookup<String> lookup = ScriptedLookup.on(scheduler);
    ScriptedConnector<String> connector = ScriptedConnector.on(scheduler);
    List<org.junit.jupiter.api.function.Executable> scripting =
        List.of(
            () -> lookup.answerAfter(negative, "a"),
            () -> lookup.failAfter(negative, new IOException("x")),
            () -> connector.succeedAfter(negative),
            () -> connector.dropAfter(negative));
    for (org.junit.jupiter.api.function.Executable step : scripting) {
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class, step);
      assertEquals("delay must not be negative: PT-0.001S", e.getMessage());
    }
    NullPointerException missing =
        assertThrows(NullPointerException.class, () -> connector.dropAfter(null));
    assertEquals("delay", missing.getMessage());
    // Nothing was added: the scripts are still empty.
    assertThrows(IllegalStateException.class, lookup::lookup);
    assertThrows(IllegalStateException.class, () -> connector.connect("x"));
  }
}
