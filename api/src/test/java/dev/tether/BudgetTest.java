package dev.tether;

import static com.google.common.util.concurrent.Futures.immediateFuture;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.common.util.concurrent.SettableFuture;
import dev.tether.ConnectionState.Status;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** DESIGN 7.7: persistent connections sharing a reconnect budget, on virtual time. */
class BudgetTest {
  private final Harness h = new Harness();

  @Test
  void thousandConnectionsSharingABudget_startTheirAttemptsNoFasterThanIt_inOrder() {
    ReconnectBudget budget = ReconnectBudget.perSecond(100, 10, h.time.ticker());
    List<Long> startedAt = new ArrayList<>();
    List<Integer> order = new ArrayList<>();
    List<PersistentConnection<String, FakeConnection>> all = new ArrayList<>();
    for (int i = 0; i < 1_000; i++) {
      int index = i;
      all.add(
          PersistentConnection.<String, FakeConnection>builder("orders-" + i)
              .addressLookup(
                  () -> {
                    startedAt.add(h.time.nanoTime());
                    order.add(index);
                    return SettableFuture.create(); // pending: one attempt each
                  })
              .connector(a -> immediateFuture(FakeConnection.named("c")))
              .scheduler(h.time)
              .logger(h.logger)
              .reconnectBudget(budget)
              .build());
    }
    h.time.runDueTasks();
    assertEquals(10, startedAt.size(), "the burst");
    h.advance(Duration.ofSeconds(10));

    assertEquals(1_000, startedAt.size());
    for (int i = 0; i < startedAt.size(); i++) {
      long due = i < 10 ? 0 : TimeUnit.MILLISECONDS.toNanos(10L * (i - 9));
      assertEquals(due, startedAt.get(i), "attempt " + i);
      assertEquals(i, order.get(i), "in the order the attempts reserved");
    }
    PersistentConnection<String, FakeConnection> last = all.get(999);
    assertEquals(1, last.state().attempts());
    all.forEach(PersistentConnection::close);
  }

  @Test
  void aRoundWaitingForItsToken_showsWaitingToRetry_withTheWait() {
    ReconnectBudget budget = ReconnectBudget.perSecond(1, 1, h.time.ticker());
    assertEquals(0, budget.reserveNanos()); // someone else took the only token
    PersistentConnection<String, FakeConnection> pc = h.builder().reconnectBudget(budget).build();
    h.time.runDueTasks();

    ConnectionState<String, FakeConnection> state = pc.state();
    assertEquals(Status.WAITING_TO_RETRY, state.status());
    assertEquals(Duration.ofSeconds(1), state.retryIn());
    assertEquals(0, state.attempts());
    h.events.expect("AttemptingToConnect");

    h.advance(Duration.ofMillis(999));
    assertEquals(0, h.lookups);
    h.advance(Duration.ofMillis(1));
    h.events.expect("ObtainedAddress a", "Connected c1");
  }

  @Test
  void retryNow_queuedBehindATimerThatWentOnToWaitForItsToken_startsTheAttemptNow() throws Exception {
    ReconnectBudget budget = ReconnectBudget.perSecond(1, 1, h.time.ticker());
    h.lookup = () -> com.google.common.util.concurrent.Futures.immediateFailedFuture(
        new java.io.IOException("catalog down"));
    PersistentConnection<String, FakeConnection> pc = h.builder().reconnectBudget(budget).build();
    h.time.runDueTasks(); // the first attempt takes the only token, fails, and waits 10 s
    assertEquals(1, h.lookups);
    h.advance(Duration.ofSeconds(9));
    assertEquals(0, budget.reserveNanos()); // others take the token refilled by now,
    assertEquals(TimeUnit.SECONDS.toNanos(1), budget.reserveNanos()); // and the one due at 10 s

    Harness.HeldStep held = Harness.holdAStep(pc);
    h.advance(Duration.ofSeconds(1)); // the timer fires; its step is queued behind the held one
    assertTrue(pc.retryNow()); // queued behind the timer's step
    held.release();

    // The timer's step went on to wait for a token (due at 11 s); no attempt had started since
    // retryNow() was called, so it started the attempt at once, with no token.
    assertEquals(2, h.lookups);
    assertEquals(Status.WAITING_TO_RETRY, pc.state().status());
    assertEquals(Duration.ofSeconds(10), pc.state().retryIn(), "waiting after the new failure");
  }

  @Test
  void aTickerThatThrows_isLogged_andTheAttemptStartsWithoutWaiting_forRoundsAndStandbys() {
    com.google.common.base.Ticker broken =
        new com.google.common.base.Ticker() {
          @Override
          public long read() {
            throw new IllegalStateException("no time");
          }
        };
    java.util.concurrent.atomic.AtomicInteger lookups = new java.util.concurrent.atomic.AtomicInteger();
    h.lookup = () -> immediateFuture(lookups.getAndIncrement() % 2 == 0 ? "a" : "b");
    PersistentConnection<String, FakeConnection> pc =
        h.builder()
            .reconnectBudget(ReconnectBudget.perSecond(1, 1, broken))
            .standby(true)
            .build();
    h.time.runDueTasks();

    h.events.expect("AttemptingToConnect", "ObtainedAddress a", "Connected c1");
    assertEquals(Status.CONNECTED, pc.state().status());
    assertEquals("b", pc.state().standbyAddress(), "the standby's attempt started too");
    assertTrue(
        h.logger.lines().stream()
            .anyMatch(
                line ->
                    line.level() == org.slf4j.event.Level.WARN
                        && line.message().contains("reconnect budget")
                        && line.cause() instanceof IllegalStateException),
        h.logger.lines().toString());
    h.made.get(0).drop(); // the standby takes over; the next standby attempt starts as well
    h.events.expect("Disconnected", "AttemptingToConnect", "ObtainedAddress b", "Connected c2");
    assertEquals(3, pc.state().attempts());
    pc.close();
  }

  @Test
  void retryNow_takesNoToken() {
    ReconnectBudget budget = ReconnectBudget.perSecond(1, 1, h.time.ticker());
    assertEquals(0, budget.reserveNanos());
    PersistentConnection<String, FakeConnection> pc = h.builder().reconnectBudget(budget).build();
    h.time.runDueTasks();
    assertEquals(Status.WAITING_TO_RETRY, pc.state().status());

    assertTrue(pc.retryNow());

    assertEquals(Status.CONNECTED, pc.state().status());
    // The token it waited for stays reserved: the next reservation comes after it.
    assertEquals(TimeUnit.SECONDS.toNanos(2), budget.reserveNanos());
  }

  @Test
  void builder_reconnectBudgetIsSetOnce_andNotNull() {
    PersistentConnection.Builder<String, FakeConnection> builder = h.builder();
    builder.reconnectBudget(ReconnectBudget.unlimited());
    IllegalStateException twice =
        org.junit.jupiter.api.Assertions.assertThrows(
            IllegalStateException.class, () -> builder.reconnectBudget(ReconnectBudget.unlimited()));
    assertEquals("reconnectBudget was already set", twice.getMessage());
    IllegalStateException standbyTwice =
        org.junit.jupiter.api.Assertions.assertThrows(
            IllegalStateException.class, () -> builder.standby(true).standby(false));
    assertEquals("standby was already set", standbyTwice.getMessage());
    @SuppressWarnings("NullAway")
    NullPointerException none =
        org.junit.jupiter.api.Assertions.assertThrows(
            NullPointerException.class, () -> h.builder().reconnectBudget(null));
    assertEquals("reconnectBudget", none.getMessage());
  }
}
