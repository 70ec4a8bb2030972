package dev.tether;

import static com.google.common.util.concurrent.Futures.immediateFailedFuture;
import static com.google.common.util.concurrent.Futures.immediateFuture;
import static dev.tether.Harness.seconds;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static java.util.Objects.requireNonNull;

import com.google.common.util.concurrent.Futures;
import com.google.common.util.concurrent.ListenableFuture;
import java.io.IOException;
import java.util.concurrent.ExecutionException;
import org.junit.jupiter.api.Test;

/** DESIGN 3.3: connected() and connectedOrFailedToConnect(). */
class WaitingTest {
  private final Harness h = new Harness();

  private static Throwable failure(ListenableFuture<?> future) {
    return requireNonNull(
        assertThrows(ExecutionException.class, () -> Futures.getDone(future)).getCause());
  }

  @Test
  void connected_whenConnected_isTheSameCompletedFutureEveryTime() throws Exception {
    PersistentConnection<String, FakeConnection> pc = h.start();
    ListenableFuture<FakeConnection> first = pc.connected();
    assertSame(h.made.get(0), Futures.getDone(first));
    assertSame(first, pc.connected(), "a connected handle allocates no new future");
    assertSame(first, pc.connectedOrFailedToConnect());
  }

  @Test
  void connected_beforeConnecting_completesWithTheNextConnection() throws Exception {
    h.connector = address -> immediateFailedFuture(new IOException("down"));
    PersistentConnection<String, FakeConnection> pc = h.start();
    ListenableFuture<FakeConnection> waiter = pc.connected();
    h.advance(seconds(30));
    assertFalse(waiter.isDone(), "failures do not complete connected()");

    h.connector = address -> immediateFuture(h.newConnection());
    h.advance(seconds(10));
    assertSame(h.made.get(0), Futures.getDone(waiter));
  }

  @Test
  void connected_whenCurrentIsClosedButNotYetFinished_waitsForTheNextOne() throws Exception {
    h.connector = address -> immediateFuture(h.made.isEmpty() ? slow() : h.newConnection());
    PersistentConnection<String, FakeConnection> pc = h.start();
    FakeConnection first = h.made.get(0);
    first.close(); // closed, but closeFinished() has not completed: the drop is not noticed yet
    assertSame(first, pc.currentConnection());

    ListenableFuture<FakeConnection> waiter = pc.connected();
    ListenableFuture<FakeConnection> outcome = pc.connectedOrFailedToConnect();
    assertFalse(waiter.isDone());
    assertFalse(outcome.isDone());

    h.advance(seconds(10));
    first.finishClosing();
    assertSame(h.made.get(1), Futures.getDone(waiter));
    assertSame(h.made.get(1), Futures.getDone(outcome));
  }

  private FakeConnection slow() {
    FakeConnection c = FakeConnection.slowToClose("c" + (h.made.size() + 1));
    h.made.add(c);
    return c;
  }

  @Test
  void cancellingAConnectedFuture_disturbsNoOtherWaiter() throws Exception {
    h.connector = address -> immediateFailedFuture(new IOException("down"));
    PersistentConnection<String, FakeConnection> pc = h.start();
    ListenableFuture<FakeConnection> cancelled = pc.connected();
    ListenableFuture<FakeConnection> kept = pc.connected();
    ListenableFuture<FakeConnection> cancelledOutcome = pc.connectedOrFailedToConnect();
    assertTrue(cancelled.cancel(false));
    assertTrue(cancelledOutcome.cancel(false));

    h.connector = address -> immediateFuture(h.newConnection());
    h.advance(seconds(10));
    assertSame(h.made.get(0), Futures.getDone(kept));
    assertSame(h.made.get(0), pc.currentConnection());
    assertFalse(h.made.get(0).isClosed());
  }

  @Test
  void cancellingTheCompletedFuture_ofAConnectedHandle_changesNothing() throws Exception {
    PersistentConnection<String, FakeConnection> pc = h.start();
    assertFalse(pc.connected().cancel(true));
    assertSame(h.made.get(0), Futures.getDone(pc.connected()));
  }

  @Test
  void connected_afterClose_neverCompletes_andPendingOnesNeverComplete() {
    h.connector = address -> immediateFailedFuture(new IOException("down"));
    PersistentConnection<String, FakeConnection> pc = h.start();
    ListenableFuture<FakeConnection> pending = pc.connected();
    pc.close();
    ListenableFuture<FakeConnection> after = pc.connected();
    h.advance(seconds(100));
    assertFalse(pending.isDone());
    assertFalse(after.isDone());
  }

  @Test
  void connectedOrFailedToConnect_completesWithTheNextFailure_evenWhenItsEventIsHidden() {
    h.connector = address -> immediateFailedFuture(new IOException("down"));
    PersistentConnection<String, FakeConnection> pc = h.start();
    h.events.take();

    ListenableFuture<FakeConnection> outcome = pc.connectedOrFailedToConnect();
    assertFalse(outcome.isDone());
    h.advance(seconds(10));
    h.events.expect(); // the repeated failure was not emitted ...
    ConnectAttemptException error = assertInstanceOf(ConnectAttemptException.class, failure(outcome));
    assertEquals(ConnectAttemptException.Stage.CONNECT, error.stage()); // ... but it was reported here
    assertEquals("down", requireNonNull(error.getCause()).getMessage());
  }

  @Test
  void connectedOrFailedToConnect_completesWithTheNextConnection() throws Exception {
    h.connector = address -> immediateFailedFuture(new IOException("down"));
    PersistentConnection<String, FakeConnection> pc = h.start();
    h.connector = address -> immediateFuture(h.newConnection());
    ListenableFuture<FakeConnection> outcome = pc.connectedOrFailedToConnect();
    h.advance(seconds(10));
    assertSame(h.made.get(0), Futures.getDone(outcome));
  }

  @Test
  void connectedOrFailedToConnect_failsAtClose_andAtOnceAfterwards() {
    h.connector = address -> immediateFailedFuture(new IOException("down"));
    PersistentConnection<String, FakeConnection> pc = h.start();
    ListenableFuture<FakeConnection> pending = pc.connectedOrFailedToConnect();
    pc.close();
    IllegalStateException atClose = assertInstanceOf(IllegalStateException.class, failure(pending));
    assertEquals("persistent connection to orders is closed", atClose.getMessage());
    ListenableFuture<FakeConnection> after = pc.connectedOrFailedToConnect();
    assertInstanceOf(IllegalStateException.class, failure(after));
  }

  @Test
  void aWaiterCallbackThatThrowsAnError_strandsNoOtherWaiter_andLaterCallersGetTheConnection() {
    PersistentConnection<String, FakeConnection> pc = h.builder().build();
    ListenableFuture<FakeConnection> first = pc.connected();
    first.addListener(
        () -> {
          throw new AssertionError("a test's assertion in a callback");
        },
        com.google.common.util.concurrent.MoreExecutors.directExecutor());
    ListenableFuture<FakeConnection> second = pc.connected();
    ListenableFuture<FakeConnection> outcome = pc.connectedOrFailedToConnect();

    h.time.runDueTasks();
    FakeConnection c1 = h.made.get(0);
    assertSame(c1, Harness.done(first));
    assertSame(c1, Harness.done(second), "completed though the first one's callback threw");
    assertSame(c1, Harness.done(outcome));
    assertSame(c1, Harness.done(pc.connected()), "later callers get it at once");
    h.events.expect("AttemptingToConnect", "ObtainedAddress a", "Connected c1");
    pc.close();
  }
}
