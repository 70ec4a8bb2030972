package dev.tether;

import static com.google.common.util.concurrent.Futures.immediateFailedFuture;
import static com.google.common.util.concurrent.Futures.immediateFuture;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.common.util.concurrent.ListenableFuture;
import com.google.common.util.concurrent.SettableFuture;
import dev.tether.ConnectionState.Status;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * close() landing between a step and the next: while the completion of a connect is queued, while
 * an unpublished connection still closes, in the state that follows a drop. Each is made
 * deterministic by calling close() from inside a step (a state listener's first delivery), which
 * queues close()'s step behind the ones already queued.
 */
class CloseRaceTest {
  private final Harness h = new Harness();

  /** Completes {@code connect} and calls close() inside one step, as two racing threads would. */
  private static void completeThenClose(
      PersistentConnection<String, FakeConnection> pc,
      SettableFuture<FakeConnection> connect,
      FakeConnection connection) {
    Subscription unused =
        pc.subscribeState(
            state -> {
              if (!connect.isDone()) {
                connect.set(connection); // its step is queued
                pc.close(); // and close()'s step behind it
              }
            });
  }

  @Test
  void closeQueuedBehindAConnect_closesTheConnection_andCloseFinishedWaitsForIt() {
    SettableFuture<FakeConnection> connect = SettableFuture.create();
    h.connector = address -> connect;
    PersistentConnection<String, FakeConnection> pc = h.start();
    FakeConnection slow = FakeConnection.slowToClose("s1");

    completeThenClose(pc, connect, slow);

    assertEquals(1, slow.closeCalls(), "never handed out: closed");
    assertFalse(pc.closeFinished().isDone(), "waits for the connection's close");
    assertEquals(Status.CLOSING, pc.state().status());
    slow.finishClosing();
    assertTrue(pc.closeFinished().isDone());
    h.events.expect("AttemptingToConnect", "ObtainedAddress a"); // no Connected after close
  }

  @Test
  void closeQueuedBehindAConnect_neverRunsTheInitializer() {
    SettableFuture<FakeConnection> connect = SettableFuture.create();
    h.connector = address -> connect;
    AtomicInteger initialized = new AtomicInteger();
    PersistentConnection<String, FakeConnection> pc =
        h.builder()
            .initializer(
                c -> {
                  initialized.incrementAndGet();
                  return immediateFuture(null);
                })
            .build();
    h.time.runDueTasks();
    FakeConnection slow = FakeConnection.slowToClose("s1");

    completeThenClose(pc, connect, slow);

    assertEquals(0, initialized.get());
    assertEquals(1, slow.closeCalls());
    assertFalse(pc.closeFinished().isDone());
    slow.finishClosing();
    assertTrue(pc.closeFinished().isDone());
  }

  @Test
  void closeFromAnEventListener_waitsForAConnectionThatFailedToInitialize() {
    List<FakeConnection> made = new ArrayList<>();
    h.connector =
        address -> {
          FakeConnection c = FakeConnection.slowToClose("s" + (made.size() + 1));
          made.add(c);
          return immediateFuture(c);
        };
    List<String> addresses = new ArrayList<>(List.of("a", "b"));
    h.lookup = () -> immediateFuture(addresses.remove(0));
    PersistentConnection<String, FakeConnection> pc =
        h.builder()
            .initializer(c -> immediateFailedFuture(new IOException("handshake refused")))
            .onEvent(
                event -> {
                  if (event instanceof Event.ObtainedAddress<String, FakeConnection> obtained
                      && obtained.address().equals("b")) {
                    ListenableFuture<Void> unused = pcHolder[0].close();
                  }
                })
            .build();
    pcHolder[0] = pc;
    h.time.runDueTasks(); // s1 fails to initialize and is being closed
    assertEquals(1, made.get(0).closeCalls());
    h.advance(Duration.ofSeconds(10)); // the next attempt: ObtainedAddress b closes

    assertTrue(pc.isClosed());
    assertFalse(pc.closeFinished().isDone(), "s1 is still closing");
    made.get(0).finishClosing();
    assertTrue(pc.closeFinished().isDone());
    assertEquals(1, made.size(), "no connect after close");
  }

  @SuppressWarnings("unchecked")
  private final PersistentConnection<String, FakeConnection>[] pcHolder =
      new PersistentConnection[1];

  @Test
  void stateListenerThatClosesOnTheStateAfterADrop_stillGetsTheDisconnected() {
    for (boolean old : new boolean[] {false, true}) {
      Harness h = new Harness();
      PersistentConnection<String, FakeConnection> pc = h.start();
      if (old) {
        h.advance(Duration.ofSeconds(30)); // outlives its timer: the drop reconnects at once
      }
      Subscription unused =
          pc.subscribeState(
              state -> {
                if (state.status() != Status.CONNECTED) {
                  pc.close();
                }
              });
      h.made.get(0).drop();
      h.events.expect("AttemptingToConnect", "ObtainedAddress a", "Connected c1", "Disconnected");
      assertTrue(pc.closeFinished().isDone());
      assertEquals(1, h.made.size(), "no round after close");
    }
  }

  @Test
  void waitingBetweenCloseAndItsStep_failsOrNeverCompletes_insteadOfTheClosingConnection() {
    PersistentConnection<String, FakeConnection> pc = h.start();
    List<ListenableFuture<FakeConnection>> asked = new ArrayList<>();
    Subscription unused =
        pc.subscribeState(
            state -> {
              if (asked.isEmpty()) {
                pc.close(); // its step is queued: the connection is still current
                asked.add(pc.connectedOrFailedToConnect());
                asked.add(pc.connected());
              }
            });
    ExecutionException failed = assertThrows(ExecutionException.class, () -> asked.get(0).get());
    assertTrue(failed.getCause() instanceof IllegalStateException, failed.toString());
    assertTrue(String.valueOf(failed.getCause().getMessage()).contains("is closed"));
    assertFalse(asked.get(1).isDone(), "connected() after close() never completes");
  }
}
