package dev.tether;

import static com.google.common.util.concurrent.Futures.immediateFailedFuture;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.common.util.concurrent.ListenableFuture;
import com.google.common.util.concurrent.SettableFuture;
import dev.tether.ConnectionState.Status;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** DESIGN 7.4: a connection is published only once its initializer succeeded. On virtual time. */
class InitializerTest {
  private final Harness h = new Harness();
  private final List<FakeConnection> initialized = new ArrayList<>();
  private final List<SettableFuture<Void>> preparing = new ArrayList<>();

  /** An initializer whose futures the test completes. */
  private PersistentConnection<String, FakeConnection> startWithPendingInitializer() {
    PersistentConnection<String, FakeConnection> pc =
        h.builder()
            .initializer(
                connection -> {
                  initialized.add(connection);
                  SettableFuture<Void> future = SettableFuture.create();
                  preparing.add(future);
                  return future;
                })
            .build();
    h.time.runDueTasks();
    return pc;
  }

  private PersistentConnection<String, FakeConnection> startWith(
      ConnectionInitializer<FakeConnection> initializer) {
    PersistentConnection<String, FakeConnection> pc = h.builder().initializer(initializer).build();
    h.time.runDueTasks();
    return pc;
  }

  @Test
  void connectionIsPublished_onlyWhenTheInitializerSucceeds() {
    PersistentConnection<String, FakeConnection> pc = startWithPendingInitializer();
    FakeConnection c1 = h.made.get(0);
    assertEquals(List.of(c1), initialized);
    h.events.expect("AttemptingToConnect", "ObtainedAddress a");
    assertEquals(Status.CONNECTING, pc.state().status());
    assertNull(pc.currentConnection());
    ListenableFuture<FakeConnection> waiting = pc.connected();
    assertFalse(waiting.isDone());

    preparing.get(0).set(null);

    h.events.expect("Connected c1");
    assertSame(c1, pc.currentConnection());
    assertTrue(waiting.isDone());
    assertEquals(Status.CONNECTED, pc.state().status());
  }

  @Test
  void initializerThatThrows_failsTheAttempt_closesTheConnection_andTheLoopRetries() {
    PersistentConnection<String, FakeConnection> pc =
        startWith(
            connection -> {
              throw new IOException("handshake refused");
            });
    h.events.expect(
        "AttemptingToConnect",
        "ObtainedAddress a",
        "FailedToConnect INITIALIZE initializer failed: java.io.IOException: handshake refused");
    assertEquals(1, h.made.get(0).closeCalls());
    assertEquals(Status.WAITING_TO_RETRY, pc.state().status());
    assertEquals(
        ConnectAttemptException.Stage.INITIALIZE,
        java.util.Objects.requireNonNull(pc.state().lastFailure()).stage());
    h.advance(Duration.ofSeconds(10));
    assertEquals(2, h.made.size(), "the loop goes on");
  }

  @Test
  @SuppressWarnings("NullAway") // the null is the point
  void initializerReturningNull_failsNamingIt() {
    startWith(connection -> null);
    h.events.expect(
        "AttemptingToConnect",
        "ObtainedAddress a",
        "FailedToConnect INITIALIZE initializer failed: java.lang.NullPointerException:"
            + " ConnectionInitializer.initialize() returned null");
    assertEquals(1, h.made.get(0).closeCalls());
  }

  @Test
  void initializerWhoseFutureFails_failsTheAttempt_andClosesTheConnection() {
    startWith(connection -> immediateFailedFuture(new IOException("not serving")));
    h.events.expect(
        "AttemptingToConnect",
        "ObtainedAddress a",
        "FailedToConnect INITIALIZE initializer failed: java.io.IOException: not serving");
    assertEquals(1, h.made.get(0).closeCalls());
  }

  @Test
  void connectionThatClosesDuringInitialization_failsTheAttempt_andCancelsTheInitializer() {
    PersistentConnection<String, FakeConnection> pc = startWithPendingInitializer();
    h.events.take();

    h.made.get(0).drop();

    h.events.expect(
        "FailedToConnect INITIALIZE initializer failed: java.lang.IllegalStateException:"
            + " the connection closed during initialization");
    assertTrue(preparing.get(0).isCancelled());
    assertEquals(0, h.made.get(0).closeCalls(), "it closed itself");
    assertNull(pc.currentConnection());
  }

  @Test
  void closeDuringInitialization_cancelsIt_closesTheConnection_andAnnouncesNothing() {
    PersistentConnection<String, FakeConnection> pc = startWithPendingInitializer();
    h.events.take();

    ListenableFuture<Void> closing = pc.close();

    assertTrue(preparing.get(0).isCancelled());
    assertEquals(1, h.made.get(0).closeCalls());
    assertTrue(closing.isDone());
    h.events.expect(); // never connected: no Disconnected either
    assertEquals(Status.CLOSED, pc.state().status());
  }

  /** A future that, like a coroutine's, ends only when its work has wound down after a cancel. */
  private static final class EndsAfterItsCancel extends com.google.common.util.concurrent.AbstractFuture<Void> {
    boolean cancelAsked;

    @Override
    public boolean cancel(boolean mayInterruptIfRunning) {
      cancelAsked = true;
      return false;
    }

    void windDown() {
      super.cancel(false);
    }
  }

  /** Starts with an initializer whose futures, kept in {@code futures}, end after their cancel. */
  private PersistentConnection<String, FakeConnection> startWithInitializersEndingAfterTheirCancel(
      List<EndsAfterItsCancel> futures) {
    PersistentConnection<String, FakeConnection> pc =
        startWith(
            connection -> {
              EndsAfterItsCancel future = new EndsAfterItsCancel();
              futures.add(future);
              return future;
            });
    h.events.take();
    return pc;
  }

  @Test
  void closeDuringInitialization_waitsForAnInitializerThatEndsAfterItsCancel() {
    List<EndsAfterItsCancel> futures = new ArrayList<>();
    PersistentConnection<String, FakeConnection> pc = startWithInitializersEndingAfterTheirCancel(futures);

    ListenableFuture<Void> closing = pc.close();

    assertTrue(futures.get(0).cancelAsked);
    assertEquals(1, h.made.get(0).closeCalls());
    assertFalse(closing.isDone(), "the initializer is still in flight");
    futures.get(0).windDown();
    assertTrue(closing.isDone());
    h.events.expect(); // never connected: nothing announced
    assertEquals(Status.CLOSED, pc.state().status());
  }

  @Test
  void closeAfterTheConnectionClosedDuringInitialization_waitsForTheCancelledInitializer() {
    List<EndsAfterItsCancel> futures = new ArrayList<>();
    PersistentConnection<String, FakeConnection> pc = startWithInitializersEndingAfterTheirCancel(futures);
    h.made.get(0).drop();
    assertTrue(futures.get(0).cancelAsked);

    ListenableFuture<Void> closing = pc.close();

    assertFalse(closing.isDone(), "the cancelled initializer is still winding down");
    futures.get(0).windDown();
    assertTrue(closing.isDone());
  }

  @Test
  void initializedConnection_isClosedAtCloseLikeAnyOther() {
    PersistentConnection<String, FakeConnection> pc =
        startWith(connection -> com.google.common.util.concurrent.Futures.immediateFuture(null));
    h.events.expect("AttemptingToConnect", "ObtainedAddress a", "Connected c1");
    pc.close();
    h.events.expect("Disconnected");
  }

  @Test
  @SuppressWarnings("NullAway") // the null is the point
  void builder_initializerIsSetOnce_andNotNull() {
    PersistentConnection.Builder<String, FakeConnection> builder = h.builder();
    NullPointerException missing = assertThrows(NullPointerException.class, () -> builder.initializer(null));
    assertEquals("initializer", missing.getMessage());
    builder.initializer(connection -> com.google.common.util.concurrent.Futures.immediateFuture(null));
    IllegalStateException twice =
        assertThrows(
            IllegalStateException.class,
            () -> builder.initializer(c -> com.google.common.util.concurrent.Futures.immediateFuture(null)));
    assertEquals("initializer was already set", twice.getMessage());
  }

  /**
   * An initializer that closes its connection (a close that finishes at once) and then fails:
   * the attempt fails with the initializer's own error, not with the close it caused.
   */
  @Test
  void initializerThatClosesItsConnectionThenFails_isReportedWithItsOwnError() {
    PersistentConnection<String, FakeConnection> pc =
        startWith(
        connection -> {
          connection.close();
          return immediateFailedFuture(new IOException("not serving"));
        });
    h.events.expect(
        "AttemptingToConnect",
        "ObtainedAddress a",
        "FailedToConnect INITIALIZE initializer failed: java.io.IOException: not serving");
    pc.close();
    assertTrue(pc.closeFinished().isDone(), "nothing is left to close or wait for");
  }

  /** The same, with close() called by the initializer between its close and its failure. */
  @Test
  void initializerThatClosesItsConnectionThenThePersistentOneThenFails_reportsNothing() {
    java.util.concurrent.atomic.AtomicReference<PersistentConnection<String, FakeConnection>> self =
        new java.util.concurrent.atomic.AtomicReference<>();
    PersistentConnection<String, FakeConnection> pc =
        h.builder()
            .initializer(
                connection -> {
                  connection.close();
                  java.util.Objects.requireNonNull(self.get()).close();
                  return immediateFailedFuture(new IOException("not serving"));
                })
            .build();
    self.set(pc);
    h.time.runDueTasks();
    h.events.expect("AttemptingToConnect", "ObtainedAddress a"); // no FailedToConnect once closing
    assertTrue(pc.closeFinished().isDone());
    assertNull(pc.currentConnection());
  }

  @Test
  void connectionClosedAfterAFailedInitializer_isWaitedForByCloseFinished() {
    List<FakeConnection> slow = connectSlowToClose();
    PersistentConnection<String, FakeConnection> pc =
        startWith(connection -> immediateFailedFuture(new IOException("not serving")));
    assertEquals(1, slow.get(0).closeCalls());

    pc.close();

    assertFalse(pc.closeFinished().isDone(), "a connection is still closing");
    slow.get(0).finishClosing();
    assertTrue(pc.closeFinished().isDone());
  }

  @Test
  void connectionTheInitializerClosedBeforeFailing_isWaitedForByCloseFinished() {
    List<FakeConnection> slow = connectSlowToClose();
    PersistentConnection<String, FakeConnection> pc =
        startWith(
            connection -> {
              connection.close(); // rejects it itself; its close takes time
              return immediateFailedFuture(new IOException("not serving"));
            });

    pc.close();

    assertFalse(pc.closeFinished().isDone(), "the rejected connection is still closing");
    slow.get(0).finishClosing();
    assertTrue(pc.closeFinished().isDone());
  }

  /** Makes the connector's connections slow to close; returns them, in the order made. */
  private List<FakeConnection> connectSlowToClose() {
    List<FakeConnection> slow = new ArrayList<>();
    h.connector =
        address -> {
          FakeConnection c = FakeConnection.slowToClose("s" + slow.size());
          slow.add(c);
          return com.google.common.util.concurrent.Futures.immediateFuture(c);
        };
    return slow;
  }
}
