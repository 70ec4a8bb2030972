package dev.tether;

import static com.google.common.util.concurrent.Futures.immediateFailedFuture;
import static com.google.common.util.concurrent.Futures.immediateFuture;
import static dev.tether.Harness.seconds;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.common.util.concurrent.ListenableFuture;
import java.io.IOException;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;
import org.slf4j.event.Level;

/** DESIGN 3.2: de-duplication, delivery to listeners, late subscribers and log lines. */
class EventsTest {
  private final Harness h = new Harness();

  /** A lookup that answers from a script, one entry per attempt: an address or an exception. */
  private static AddressLookup<String> scripted(Object... answers) {
    Deque<Object> script = new ArrayDeque<>(List.of(answers));
    return () -> {
      Object answer = script.isEmpty() ? answers[answers.length - 1] : script.poll();
      if (answer instanceof Exception e) {
        return immediateFailedFuture(e);
      }
      return immediateFuture((String) answer);
    };
  }

  private void failEveryConnect() {
    h.connector = address -> immediateFailedFuture(new IOException("refused by " + address));
  }

  @Test
  void obtainedAddress_isReportedOnlyWhenItChanges_withinARound() {
    h.lookup = scripted("a", "a", "b", "a");
    failEveryConnect();
    h.start();
    h.advance(seconds(30));
    h.events.expect(
        "AttemptingToConnect",
        "ObtainedAddress a",
        "FailedToConnect CONNECT connector failed: java.io.IOException: refused by a",
        "ObtainedAddress b",
        "FailedToConnect CONNECT connector failed: java.io.IOException: refused by b",
        "ObtainedAddress a",
        "FailedToConnect CONNECT connector failed: java.io.IOException: refused by a");
  }

  @Test
  void failedLookup_doesNotResetThePreviousAddress() {
    h.lookup = scripted("a", new IOException("catalog down"), "a");
    failEveryConnect();
    h.start();
    h.advance(seconds(20));
    h.events.expect(
        "AttemptingToConnect",
        "ObtainedAddress a",
        "FailedToConnect CONNECT connector failed: java.io.IOException: refused by a",
        "FailedToConnect LOOKUP address lookup failed: java.io.IOException: catalog down",
        "FailedToConnect CONNECT connector failed: java.io.IOException: refused by a");
  }

  @Test
  void failedToConnect_isReportedOnlyWhenStageClassOrMessageChanges() {
    Deque<Supplier<ListenableFuture<FakeConnection>>> script = new ArrayDeque<>();
    script.add(() -> immediateFailedFuture(new IOException("x")));
    script.add(() -> immediateFailedFuture(new IOException("x"))); // same: hidden
    script.add(
        () -> {
          throw new IllegalStateException("x"); // another class
        });
    script.add(() -> immediateFailedFuture(new IllegalStateException("x"))); // sync = async: hidden
    script.add(() -> immediateFailedFuture(new IllegalStateException("y"))); // another message
    h.connector = address -> script.isEmpty() ? immediateFuture(h.newConnection()) : script.poll().get();
    h.start();
    h.advance(seconds(50));
    h.events.expect(
        "AttemptingToConnect",
        "ObtainedAddress a",
        "FailedToConnect CONNECT connector failed: java.io.IOException: x",
        "FailedToConnect CONNECT connector failed: java.lang.IllegalStateException: x",
        "FailedToConnect CONNECT connector failed: java.lang.IllegalStateException: y",
        "Connected c1");
  }

  @Test
  void sameCause_atAnotherStage_isReportedAgain() {
    h.lookup = scripted(new IOException("x"), "a");
    h.connector = address -> immediateFailedFuture(new IOException("x"));
    h.start();
    h.advance(seconds(10));
    h.events.expect(
        "AttemptingToConnect",
        "FailedToConnect LOOKUP address lookup failed: java.io.IOException: x",
        "ObtainedAddress a",
        "FailedToConnect CONNECT connector failed: java.io.IOException: x");
  }

  @Test
  void newRound_forgetsThePreviousAddressAndError() {
    h.connector =
        address ->
            h.connects % 2 == 1
                ? immediateFailedFuture(new IOException("flaky"))
                : immediateFuture(h.newConnection());
    h.start();
    h.advance(seconds(10));
    h.events.expect(
        "AttemptingToConnect",
        "ObtainedAddress a",
        "FailedToConnect CONNECT connector failed: java.io.IOException: flaky",
        "Connected c1");
    h.advance(seconds(60));
    h.made.get(0).drop();
    h.advance(seconds(10));
    h.events.expect(
        "Disconnected",
        "AttemptingToConnect",
        "ObtainedAddress a",
        "FailedToConnect CONNECT connector failed: java.io.IOException: flaky",
        "Connected c2");
  }

  @Test
  void badUserResults_failTheAttempt_namingWhichPartFailed() {
    Deque<Supplier<ListenableFuture<String>>> lookups = new ArrayDeque<>();
    lookups.add(
        () -> {
          throw new IllegalArgumentException("sync lookup");
        });
    lookups.add(() -> nullFuture());
    lookups.add(() -> immediateFuture(nullValue()));
    h.lookup = () -> lookups.isEmpty() ? immediateFuture("a") : lookups.poll().get();
    Deque<Supplier<ListenableFuture<FakeConnection>>> connects = new ArrayDeque<>();
    connects.add(() -> nullFuture());
    connects.add(() -> immediateFuture(nullValue()));
    h.connector = address -> connects.isEmpty() ? immediateFuture(h.newConnection()) : connects.poll().get();
    h.start();
    h.advance(seconds(50));
    h.events.expect(
        "AttemptingToConnect",
        "FailedToConnect LOOKUP address lookup failed: java.lang.IllegalArgumentException: sync lookup",
        "FailedToConnect LOOKUP address lookup failed: java.lang.NullPointerException:"
            + " AddressLookup.lookup() returned null",
        "FailedToConnect LOOKUP address lookup failed: java.lang.NullPointerException:"
            + " AddressLookup.lookup() yielded a null address",
        "ObtainedAddress a",
        "FailedToConnect CONNECT connector failed: java.lang.NullPointerException:"
            + " Connector.connect() returned null",
        "FailedToConnect CONNECT connector failed: java.lang.NullPointerException:"
            + " Connector.connect() yielded a null connection",
        "Connected c1");
  }

  @SuppressWarnings({"NullAway", "TypeParameterUnusedInFormals"}) // null on purpose
  private static <T> T nullFuture() {
    return null;
  }

  @SuppressWarnings({"NullAway", "TypeParameterUnusedInFormals"}) // null on purpose
  private static <T> T nullValue() {
    return null;
  }

  @Test
  void listenerThatThrows_isLoggedAndSkipped_othersStillReceiveTheEvent() {
    RecordingListener<String, FakeConnection> after = new RecordingListener<>();
    PersistentConnection<String, FakeConnection> pc =
        h.builder()
            .onEvent(
                event -> {
                  throw new IllegalStateException("listener bug");
                })
            .onEvent(after)
            .build();
    h.time.runDueTasks();
    h.events.expect("AttemptingToConnect", "ObtainedAddress a", "Connected c1");
    after.expect("AttemptingToConnect", "ObtainedAddress a", "Connected c1");
    assertSame(h.made.get(0), pc.currentConnection());
    long listenerWarnings =
        h.logger.lines().stream()
            .filter(line -> line.level() == Level.WARN && line.message().contains("listener"))
            .filter(line -> line.cause() instanceof IllegalStateException)
            .count();
    assertEquals(3, listenerWarnings);
  }

  @Test
  void currentConnection_isSetBeforeConnected_andClearedBeforeDisconnected() {
    List<String> seen = new ArrayList<>();
    PersistentConnection<String, FakeConnection>[] self = newArray();
    self[0] =
        h.builder()
            .onEvent(event -> seen.add(RecordingListener.describe(event) + " / current=" + self[0].currentConnection()))
            .build();
    h.time.runDueTasks();
    h.made.get(0).drop();
    assertEquals(
        List.of(
            "AttemptingToConnect / current=null",
            "ObtainedAddress a / current=null",
            "Connected c1 / current=c1",
            "Disconnected / current=null"),
        seen);
  }

  @SuppressWarnings("unchecked")
  private static PersistentConnection<String, FakeConnection>[] newArray() {
    return (PersistentConnection<String, FakeConnection>[]) new PersistentConnection<?, ?>[1];
  }

  @Test
  void lateSubscriber_firstGetsTheLastEvent_thenEveryLaterOne() {
    PersistentConnection<String, FakeConnection> pc = h.start();
    RecordingListener<String, FakeConnection> late = new RecordingListener<>();
    Subscription subscription = pc.subscribe(late);
    late.expect("Connected c1");
    h.made.get(0).drop();
    late.expect("Disconnected");
    subscription.close();
    h.advance(seconds(10));
    late.expect();
    h.events.expect(
        "AttemptingToConnect",
        "ObtainedAddress a",
        "Connected c1",
        "Disconnected",
        "AttemptingToConnect",
        "ObtainedAddress a",
        "Connected c2");
  }

  @Test
  void subscriberBeforeAnyEvent_getsEveryEventFromTheFirst() {
    PersistentConnection<String, FakeConnection> pc = h.builder().build();
    RecordingListener<String, FakeConnection> early = new RecordingListener<>();
    pc.subscribe(early);
    early.expect();
    h.time.runDueTasks();
    early.expect("AttemptingToConnect", "ObtainedAddress a", "Connected c1");
  }

  @Test
  void subscriptionClose_isIdempotent_andStopsDelivery() {
    PersistentConnection<String, FakeConnection> pc = h.start();
    RecordingListener<String, FakeConnection> late = new RecordingListener<>();
    Subscription subscription = pc.subscribe(late);
    subscription.close();
    subscription.close();
    h.made.get(0).drop();
    late.expect("Connected c1");
  }

  @Test
  void everyEvent_isLoggedOnce_withTheServerNameAsKeyValueAndInTheText() {
    h.connector =
        address ->
            h.connects == 1
                ? immediateFailedFuture(new IOException("refused"))
                : immediateFuture(h.newConnection());
    h.start();
    h.advance(seconds(10));
    h.made.get(0).drop();
    List<RecordingLogger.Line> lines = h.logger.take();
    assertEquals(
        List.of(
            "INFO [persistent-connection-to=orders] Persistent connection to orders: attempting to connect",
            "INFO [persistent-connection-to=orders] Persistent connection to orders: obtained address a",
            "WARN [persistent-connection-to=orders] Persistent connection to orders: failed to connect:"
                + " connector failed: java.io.IOException: refused",
            "INFO [persistent-connection-to=orders] Persistent connection to orders: connected: c1",
            "INFO [persistent-connection-to=orders] Persistent connection to orders: disconnected;"
                + " next attempt in 10.0 s"),
        lines.stream().map(RecordingLogger.Line::toString).toList());
  }

  @Test
  void brokenLogger_doesNotStopTheLoop() {
    RecordingLogger broken =
        new RecordingLogger() {
          @Override
          public synchronized void log(org.slf4j.event.LoggingEvent event) {
            throw new IllegalStateException("logger bug");
          }
        };
    PersistentConnection<String, FakeConnection> pc =
        PersistentConnection.<String, FakeConnection>builder("orders")
            .addressLookup(() -> immediateFuture("a"))
            .connector(address -> immediateFuture(h.newConnection()))
            .logger(broken)
            .scheduler(h.time)
            .onEvent(h.events)
            .build();
    h.time.runDueTasks();
    h.events.expect("AttemptingToConnect", "ObtainedAddress a", "Connected c1");
    assertTrue(pc.connected().isDone());
  }

  @Test
  void eventsWithoutFields_printTheirNameAlone() {
    assertEquals("AttemptingToConnect", new Event.AttemptingToConnect<String, FakeConnection>().toString());
    assertEquals("Disconnected", new Event.Disconnected<String, FakeConnection>().toString());
    assertEquals("ObtainedAddress[address=a]", new Event.ObtainedAddress<String, FakeConnection>("a").toString());
  }
}
