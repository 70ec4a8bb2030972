package dev.tether;

import static com.google.common.util.concurrent.Futures.immediateFailedFuture;
import static com.google.common.util.concurrent.Futures.immediateFuture;
import static dev.tether.Harness.seconds;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.common.util.concurrent.SettableFuture;
import java.io.IOException;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/** DESIGN 3.1: rounds, attempts, the retry timer and drops, on virtual time. */
class RoundsAndAttemptsTest {
  private final Harness h = new Harness();

  @Test
  void build_runsNoUserCode_andTheSchedulerStartsTheFirstRound() {
    PersistentConnection<String, FakeConnection> pc = h.builder().build();

    assertEquals(0, h.lookups);
    h.events.expect();
    assertNull(pc.currentConnection());

    h.time.runDueTasks();
    h.events.expect("AttemptingToConnect", "ObtainedAddress a", "Connected c1");
    assertSame(h.made.get(0), pc.currentConnection());
  }

  @Test
  void failedLookup_reportsLookupStage_andRetriesWhenTheTimerFires() {
    h.lookup = () -> immediateFailedFuture(new IOException("catalog down"));
    PersistentConnection<String, FakeConnection> pc = h.start();

    h.events.expect(
        "AttemptingToConnect",
        "FailedToConnect LOOKUP address lookup failed: java.io.IOException: catalog down");
    assertEquals(1, h.lookups);

    h.advance(seconds(10).minusNanos(1));
    assertEquals(1, h.lookups);
    h.advance(Duration.ofNanos(1));
    assertEquals(2, h.lookups);
    // The same failure again in the same round is not reported again.
    h.events.expect();
    assertEquals(Duration.ofSeconds(10), h.time.now());

    h.lookup = () -> immediateFuture("b");
    h.advance(seconds(10));
    h.events.expect("ObtainedAddress b", "Connected c1");
    assertSame(h.made.get(0), pc.currentConnection());
  }

  @Test
  void failedConnect_reportsConnectStage_withoutTheAddressInTheLibrarysWords() {
    h.lookup = () -> immediateFuture("10.0.0.7:443");
    h.connector = address -> immediateFailedFuture(new IOException("refused"));
    h.start();

    List<Event<String, FakeConnection>> events = h.events.events();
    h.events.expect(
        "AttemptingToConnect",
        "ObtainedAddress 10.0.0.7:443",
        "FailedToConnect CONNECT connector failed: java.io.IOException: refused");
    Event.FailedToConnect<?, ?> failed = assertInstanceOf(Event.FailedToConnect.class, events.get(2));
    ConnectAttemptException error = assertInstanceOf(ConnectAttemptException.class, failed.error());
    assertEquals(ConnectAttemptException.Stage.CONNECT, error.stage());
    assertInstanceOf(IOException.class, error.getCause());
    assertEquals("refused", java.util.Objects.requireNonNull(error.getCause()).getMessage());
  }

  @Test
  void attemptThatTookLongerThanTheDelay_retriesAtOnce() {
    SettableFuture<FakeConnection> slow = SettableFuture.create();
    h.connector = address -> slow;
    h.start();
    h.events.expect("AttemptingToConnect", "ObtainedAddress a");

    h.advance(seconds(15));
    assertEquals(1, h.connects);
    h.connector = address -> immediateFuture(h.newConnection());
    slow.setException(new IOException("timed out"));

    h.events.expect(
        "FailedToConnect CONNECT connector failed: java.io.IOException: timed out", "Connected c1");
    assertEquals(2, h.connects);
    assertEquals(seconds(15), h.time.now());
  }

  @Test
  void longLivedConnectionDrops_reconnectsAtOnce() {
    PersistentConnection<String, FakeConnection> pc = h.start();
    h.events.expect("AttemptingToConnect", "ObtainedAddress a", "Connected c1");

    h.advance(seconds(60));
    h.made.get(0).drop();

    h.events.expect(
        "Disconnected", "AttemptingToConnect", "ObtainedAddress a", "Connected c2");
    assertSame(h.made.get(1), pc.currentConnection());
    assertEquals(0, h.made.get(0).closeCalls(), "the library never closes a dropped connection");
  }

  @Test
  void youngConnectionDrops_nextRoundWaitsOutTheRestOfTheDelay() {
    PersistentConnection<String, FakeConnection> pc = h.start();
    h.events.expect("AttemptingToConnect", "ObtainedAddress a", "Connected c1");

    h.advance(seconds(3));
    h.made.get(0).drop();
    h.events.expect("Disconnected");
    assertNull(pc.currentConnection());

    h.advance(seconds(7).minusNanos(1));
    h.events.expect();
    h.advance(Duration.ofNanos(1));
    h.events.expect("AttemptingToConnect", "ObtainedAddress a", "Connected c2");
  }

  @Test
  void connectionAlreadyClosedWhenConnected_isConnectedThenDisconnected() {
    h.connector =
        address -> {
          FakeConnection c = h.newConnection();
          c.drop();
          return immediateFuture(c);
        };
    h.start();
    h.events.expect("AttemptingToConnect", "ObtainedAddress a", "Connected c1", "Disconnected");
    h.advance(seconds(10));
    h.events.expect("AttemptingToConnect", "ObtainedAddress a", "Connected c2", "Disconnected");
  }

  @Test
  void retryDelay_getsConsecutiveFailures_resetBySuccess() {
    h.connector = address -> immediateFailedFuture(new IOException("no"));
    h.start();
    h.advance(seconds(20));
    h.connector = address -> immediateFuture(h.newConnection());
    h.advance(seconds(10));
    assertEquals(List.of(0, 1, 2, 3), h.delaysAsked);

    h.made.get(0).drop();
    h.advance(seconds(10));
    assertEquals(List.of(0, 1, 2, 3, 0), h.delaysAsked);
  }

  @Test
  void retryDelay_isAskedBeforeTheLookup() {
    h.lookup =
        () -> {
          assertEquals(h.lookups, h.delaysAsked.size(), "delay asked before this lookup");
          return immediateFuture("a");
        };
    h.start();
    h.events.expect("AttemptingToConnect", "ObtainedAddress a", "Connected c1");
  }

  @Test
  void randomizedDelay_fallsWithin30PercentOfTheDelay() {
    h.randomize = true;
    h.connector = address -> immediateFailedFuture(new IOException("no"));
    h.start();
    long earliest = Long.MAX_VALUE;
    long latest = 0;
    for (int attempt = 1; attempt <= 200; attempt++) {
      long before = h.time.nanoTime();
      h.time.runNextTasks();
      long waited = h.time.nanoTime() - before;
      assertEquals(attempt + 1, h.connects);
      earliest = Math.min(earliest, waited);
      latest = Math.max(latest, waited);
    }
    assertTrue(earliest >= seconds(7).toNanos(), "earliest " + earliest);
    assertTrue(latest <= seconds(13).toNanos(), "latest " + latest);
    // 200 uniform draws: the spread is wide, so the delay is really randomized.
    assertTrue(latest - earliest > seconds(4).toNanos(), earliest + " .. " + latest);
  }

  @Test
  @SuppressWarnings("NullAway") // the delay returns null on purpose
  void brokenRetryDelay_isLogged_andTheDefaultIsUsed() {
    h.retryDelay =
        failures -> {
          if (failures == 0) {
            throw new IllegalStateException("bad config");
          }
          return failures == 1 ? Duration.ofSeconds(-1) : null;
        };
    h.connector = address -> immediateFailedFuture(new IOException("no"));
    h.start();
    h.advance(seconds(10).minusNanos(1));
    assertEquals(1, h.connects);
    h.advance(Duration.ofNanos(1));
    assertEquals(2, h.connects);
    h.advance(seconds(10));
    assertEquals(3, h.connects);
    h.advance(seconds(10));
    assertEquals(4, h.connects);

    List<String> warnings =
        h.logger.lines().stream()
            .filter(line -> line.message().contains("retry delay"))
            .map(RecordingLogger.Line::message)
            .toList();
    assertEquals(4, warnings.size(), warnings.toString());
    assertTrue(warnings.get(0).contains("threw java.lang.IllegalStateException: bad config"));
    assertTrue(warnings.get(1).contains("returned PT-1S"));
    assertTrue(warnings.get(2).contains("returned null"));
  }

  @Test
  void zeroDelay_retriesAtOnce() {
    h.retryDelay = RetryDelay.constant(Duration.ZERO);
    h.connector =
        address ->
            h.connects == 1
                ? immediateFailedFuture(new IOException("no"))
                : immediateFuture(h.newConnection());
    h.start();
    h.events.expect(
        "AttemptingToConnect",
        "ObtainedAddress a",
        "FailedToConnect CONNECT connector failed: java.io.IOException: no",
        "Connected c1");
    assertEquals(Duration.ZERO, h.time.now());
  }
}
