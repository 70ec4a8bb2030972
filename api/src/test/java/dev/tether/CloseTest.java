package dev.tether;

import static com.google.common.util.concurrent.Futures.immediateFailedFuture;
import static com.google.common.util.concurrent.Futures.immediateFuture;
import static dev.tether.Harness.seconds;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import static com.google.common.util.concurrent.MoreExecutors.directExecutor;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.google.common.util.concurrent.AbstractFuture;
import com.google.common.util.concurrent.Futures;
import com.google.common.util.concurrent.ListenableFuture;
import com.google.common.util.concurrent.SettableFuture;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.slf4j.event.Level;

/** DESIGN 3.4: closing in every state. */
class CloseTest {
  private final Harness h = new Harness();

  /** A future that ignores cancel(), like a connector that does not listen. */
  private static final class Stubborn<V> extends AbstractFuture<V> {
    @Override
    public boolean cancel(boolean mayInterruptIfRunning) {
      return false;
    }

    void complete(V value) {
      set(value);
    }

    void fail(Throwable error) {
      setException(error);
    }
  }

  /** Connections that finish closing only when the test says ({@link FakeConnection#finishClosing}). */
  private void connectsSlowToClose() {
    h.connector =
        address -> {
          FakeConnection c = FakeConnection.slowToClose("slow");
          h.made.add(c);
          return immediateFuture(c);
        };
  }

  @Test
  void close_isSynchronous_idempotent_andReturnsCloseFinished() {
    PersistentConnection<String, FakeConnection> pc = h.start();
    ListenableFuture<Void> first = pc.close();
    assertTrue(pc.isClosed());
    assertSame(first, pc.close());
    assertSame(first, pc.closeFinished());
    assertTrue(first.isDone());
    assertFalse(first.cancel(true), "closeFinished ignores cancel()");
    assertFalse(first.isCancelled());
  }

  @Test
  void closeFinished_beforeClose_isPending_andDoesNotClose() {
    PersistentConnection<String, FakeConnection> pc = h.start();
    assertFalse(pc.closeFinished().isDone());
    assertFalse(pc.isClosed());
    assertFalse(h.made.get(0).isClosed());
  }

  @Test
  void closeBeforeTheFirstRound_emitsNothing_andNeverLooksUp() {
    PersistentConnection<String, FakeConnection> pc = h.builder().build();
    pc.close();
    h.time.runDueTasks();
    h.advance(seconds(100));
    assertEquals(0, h.lookups);
    h.events.expect();
    assertTrue(pc.closeFinished().isDone());
  }

  @Test
  void closeWhileConnected_closesTheConnection_thenDisconnected_thenFinished() {
    PersistentConnection<String, FakeConnection> pc = h.start();
    h.events.take();
    pc.close();
    FakeConnection c1 = h.made.get(0);
    assertEquals(1, c1.closeCalls());
    h.events.expect("Disconnected");
    assertNull(pc.currentConnection());
    assertTrue(pc.closeFinished().isDone());
    h.advance(seconds(100));
    h.events.expect();
    assertEquals(1, h.lookups);
  }

  @Test
  void closeFinished_waitsForTheConnectionToFinishClosing() {
    connectsSlowToClose();
    PersistentConnection<String, FakeConnection> pc = h.start();
    h.events.take();
    pc.close();
    assertTrue(h.made.get(0).isClosed());
    assertFalse(pc.closeFinished().isDone());
    h.events.expect();
    h.made.get(0).finishClosing();
    h.events.expect("Disconnected");
    assertTrue(pc.closeFinished().isDone());
  }

  @Test
  void closeWhileWaitingToRetry_cancelsTheTimer_andStartsNothing() {
    h.connector = address -> immediateFailedFuture(new IOException("down"));
    PersistentConnection<String, FakeConnection> pc = h.start();
    h.events.take();
    pc.close();
    assertTrue(pc.closeFinished().isDone());
    assertEquals(0, h.time.pendingTaskCount(), "the retry timer is cancelled");
    h.advance(seconds(100));
    assertEquals(1, h.connects);
    h.events.expect();
  }

  @Test
  void closeDuringLookup_cancelsIt_andReportsNoFailure() {
    SettableFuture<String> lookup = SettableFuture.create();
    h.lookup = () -> lookup;
    PersistentConnection<String, FakeConnection> pc = h.start();
    h.events.expect("AttemptingToConnect");
    pc.close();
    assertTrue(lookup.isCancelled());
    assertTrue(pc.closeFinished().isDone());
    h.advance(seconds(100));
    h.events.expect();
    assertEquals(0, h.connects);
  }

  @Test
  void closeDuringConnect_cancelsIt_andReportsNoFailure() {
    SettableFuture<FakeConnection> connect = SettableFuture.create();
    h.connector = address -> connect;
    PersistentConnection<String, FakeConnection> pc = h.start();
    h.events.expect("AttemptingToConnect", "ObtainedAddress a");
    pc.close();
    assertTrue(connect.isCancelled());
    assertTrue(pc.closeFinished().isDone());
    h.advance(seconds(100));
    h.events.expect();
  }

  @Test
  void connectionYieldedAfterClose_isClosedAndNeverHandedOut() {
    Stubborn<FakeConnection> connect = new Stubborn<>();
    h.connector = address -> connect;
    PersistentConnection<String, FakeConnection> pc = h.start();
    ListenableFuture<FakeConnection> waiter = pc.connected();
    h.events.take();
    pc.close();
    assertFalse(pc.closeFinished().isDone(), "the attempt is still in flight");

    FakeConnection late = FakeConnection.slowToClose("late");
    connect.complete(late);
    assertTrue(late.isClosed());
    assertNull(pc.currentConnection());
    assertFalse(waiter.isDone());
    assertFalse(pc.closeFinished().isDone(), "the late connection has not finished closing");
    late.finishClosing();
    assertTrue(pc.closeFinished().isDone());
    h.events.expect();
  }

  @Test
  void failureAfterClose_isNotReported() {
    Stubborn<FakeConnection> connect = new Stubborn<>();
    h.connector = address -> connect;
    PersistentConnection<String, FakeConnection> pc = h.start();
    h.events.take();
    pc.close();
    connect.fail(new IOException("too late"));
    assertTrue(pc.closeFinished().isDone());
    h.events.expect();
  }

  @Test
  void connectionWhoseCloseThrows_isLoggedAndCountedAsClosed() {
    FakeConnection broken =
        new FakeConnection.Broken("broken", new IllegalStateException("close bug"));
    h.connector = address -> immediateFuture(broken);
    PersistentConnection<String, FakeConnection> pc = h.start();
    h.events.take();
    pc.close();
    h.events.expect("Disconnected");
    assertTrue(pc.closeFinished().isDone());
    assertTrue(
        h.logger.lines().stream()
            .anyMatch(
                line ->
                    line.level() == Level.WARN
                        && line.message().contains("closing connection broken failed")));
  }

  @Test
  void closeFromAListener_endsWithDisconnected() {
    PersistentConnection<String, FakeConnection>[] self = newArray();
    self[0] =
        h.builder()
            .onEvent(
                event -> {
                  if (event instanceof Event.Connected) {
                    self[0].close();
                  }
                })
            .build();
    h.time.runDueTasks();
    h.events.expect("AttemptingToConnect", "ObtainedAddress a", "Connected c1", "Disconnected");
    assertTrue(self[0].closeFinished().isDone());
    assertTrue(h.made.get(0).isClosed());
  }

  @Test
  void closeFromAnObtainedAddressListener_connectsNothing() {
    PersistentConnection<String, FakeConnection>[] self = newArray();
    self[0] =
        h.builder()
            .onEvent(
                event -> {
                  if (event instanceof Event.ObtainedAddress) {
                    self[0].close();
                  }
                })
            .build();
    h.time.runDueTasks();
    h.events.expect("AttemptingToConnect", "ObtainedAddress a");
    assertEquals(0, h.connects);
    assertTrue(self[0].closeFinished().isDone());
  }

  @Test
  void closeFromAnOutcomeCallback_reportsNoFailureAfterwards() {
    h.connector = address -> immediateFailedFuture(new IOException("down"));
    PersistentConnection<String, FakeConnection> pc = h.builder().build();
    pc.connectedOrFailedToConnect()
        .addListener(pc::close, com.google.common.util.concurrent.MoreExecutors.directExecutor());
    h.time.runDueTasks();
    h.events.expect("AttemptingToConnect", "ObtainedAddress a");
    assertTrue(pc.closeFinished().isDone());
  }

  /**
   * Builds a persistent connection whose events also go to a grammar checker, and registers
   * {@code waiter}'s future before the first round runs.
   */
  private PersistentConnection<String, FakeConnection> startWithWaiter(
      Queue<String> problems,
      java.util.function.Function<PersistentConnection<String, FakeConnection>, ListenableFuture<FakeConnection>> waiter,
      java.util.function.Consumer<PersistentConnection<String, FakeConnection>> then) {
    PersistentConnection<String, FakeConnection> pc =
        h.builder().onEvent(new EventGrammar<>("grammar", true, problems, new AtomicInteger())).build();
    waiter.apply(pc).addListener(() -> then.accept(pc), directExecutor());
    h.time.runDueTasks();
    return pc;
  }

  /**
   * Waiters get a new connection after its {@code Connected}: one that closes at once, even from
   * its callback, sees {@code Connected} and then the close's {@code Disconnected}.
   */
  @Test
  void closeFromAConnectedCallback_comesAfterConnected_andEmitsDisconnected() {
    Queue<String> problems = new ConcurrentLinkedQueue<>();
    PersistentConnection<String, FakeConnection> pc =
        startWithWaiter(problems, PersistentConnection::connected, PersistentConnection::close);

    h.events.expect("AttemptingToConnect", "ObtainedAddress a", "Connected c1", "Disconnected");
    FakeConnection c1 = h.made.get(0);
    assertEquals(1, c1.closeCalls());
    assertNull(pc.currentConnection());
    assertTrue(pc.closeFinished().isDone());
    assertEquals(List.of(), List.copyOf(problems));
    h.advance(seconds(100));
    h.events.expect();
    assertEquals(1, h.lookups);
  }

  @Test
  void theWaitersOfANewConnection_completeAfterItsConnected() {
    List<Boolean> doneAtConnected = new ArrayList<>();
    PersistentConnection<String, FakeConnection> pc = h.builder().build();
    ListenableFuture<FakeConnection> connected = pc.connected();
    ListenableFuture<FakeConnection> outcome = pc.connectedOrFailedToConnect();
    Subscription unused =
        pc.subscribe(
            event -> {
              if (event instanceof Event.Connected) {
                doneAtConnected.add(connected.isDone());
                doneAtConnected.add(outcome.isDone());
              }
            });
    h.time.runDueTasks();
    assertEquals(List.of(false, false), doneAtConnected);
    assertSame(h.made.get(0), Harness.done(connected));
    assertSame(h.made.get(0), Harness.done(outcome));
    pc.close();
  }

  @Test
  void connectedAskedOnceTheConnectionIsCurrent_butBeforeItsConnected_waitsForIt() {
    PersistentConnection<String, FakeConnection> pc = h.builder().build();
    List<ListenableFuture<FakeConnection>> asked = new ArrayList<>();
    List<Boolean> doneAtConnected = new ArrayList<>();
    pc.subscribeState(
        state -> {
          if (state.status() == ConnectionState.Status.CONNECTED && asked.isEmpty()) {
            asked.add(pc.connected()); // current already; announced only next
          }
        });
    Subscription unused =
        pc.subscribe(
            event -> {
              if (event instanceof Event.Connected) {
                doneAtConnected.add(asked.get(0).isDone());
              }
            });
    h.time.runDueTasks();
    assertEquals(List.of(false), doneAtConnected);
    assertSame(h.made.get(0), Harness.done(asked.get(0)));
    pc.close();
  }

  /**
   * With real threads: a caller that gets the connection from {@code connected()} and closes at
   * once, while the thread that completed the connect may still be in that step, always sees
   * {@code Connected} then {@code Disconnected}.
   */
  @Test
  void connectedThenCloseAtOnce_onRealThreads_alwaysEmitsConnectedThenDisconnected()
      throws Exception {
    java.util.concurrent.ExecutorService connects =
        java.util.concurrent.Executors.newSingleThreadExecutor();
    try {
      for (int i = 0; i < 500; i++) {
        List<String> events = java.util.Collections.synchronizedList(new ArrayList<>());
        PersistentConnection<String, FakeConnection> pc =
            PersistentConnection.<String, FakeConnection>builder("race")
                .addressLookup(() -> immediateFuture("a"))
                .connector(
                    address -> {
                      SettableFuture<FakeConnection> made = SettableFuture.create();
                      connects.execute(() -> made.set(FakeConnection.named("c")));
                      return made;
                    })
                .onEvent(event -> events.add(RecordingListener.describe(event)))
                .build();
        pc.connected().get(10, java.util.concurrent.TimeUnit.SECONDS);
        pc.close().get(10, java.util.concurrent.TimeUnit.SECONDS);
        assertEquals(
            List.of("AttemptingToConnect", "ObtainedAddress a", "Connected c", "Disconnected"),
            events,
            "run " + i);
      }
    } finally {
      connects.shutdownNow();
    }
  }

  @Test
  void closeFromAnOutcomeCallbackOnSuccess_comesAfterConnected_andClosesTheConnection() {
    Queue<String> problems = new ConcurrentLinkedQueue<>();
    PersistentConnection<String, FakeConnection> pc =
        startWithWaiter(
            problems, PersistentConnection::connectedOrFailedToConnect, PersistentConnection::close);

    h.events.expect("AttemptingToConnect", "ObtainedAddress a", "Connected c1", "Disconnected");
    assertTrue(h.made.get(0).isClosed());
    assertNull(pc.currentConnection());
    assertTrue(pc.closeFinished().isDone());
    assertEquals(List.of(), List.copyOf(problems));
  }

  @Test
  void closeFromAWaiterCallback_waitersLeftBehindAreTreatedAsAtClose() throws Exception {
    Queue<String> problems = new ConcurrentLinkedQueue<>();
    List<ListenableFuture<FakeConnection>> later = new ArrayList<>();
    PersistentConnection<String, FakeConnection> pc =
        startWithWaiter(
            problems,
            self -> {
              ListenableFuture<FakeConnection> first = self.connected();
              later.add(self.connected());
              later.add(self.connectedOrFailedToConnect());
              return first;
            },
            PersistentConnection::close);

    ListenableFuture<FakeConnection> connected = later.get(0);
    ListenableFuture<FakeConnection> outcome = later.get(1);
    assertFalse(connected.isDone(), "connected() completes never after close()");
    ExecutionException failed = assertThrows(ExecutionException.class, () -> Futures.getDone(outcome));
    assertInstanceOf(IllegalStateException.class, failed.getCause());
    h.events.expect("AttemptingToConnect", "ObtainedAddress a", "Connected c1", "Disconnected");
    assertTrue(pc.closeFinished().isDone());
    assertEquals(List.of(), List.copyOf(problems));
  }

  @Test
  void closeFromAConnectedCallback_closeFinishedWaitsForTheConnection() {
    connectsSlowToClose();
    Queue<String> problems = new ConcurrentLinkedQueue<>();
    PersistentConnection<String, FakeConnection> pc =
        startWithWaiter(problems, PersistentConnection::connected, PersistentConnection::close);

    FakeConnection slow = h.made.get(0);
    assertTrue(slow.isClosed());
    assertFalse(pc.closeFinished().isDone(), "the connection has not finished closing");
    slow.finishClosing();
    assertTrue(pc.closeFinished().isDone());
    h.events.expect("AttemptingToConnect", "ObtainedAddress a", "Connected slow", "Disconnected");
    assertEquals(List.of(), List.copyOf(problems));
  }

  @Test
  void subscribeAfterClose_receivesTheLastEventOnly() {
    PersistentConnection<String, FakeConnection> pc = h.start();
    pc.close();
    RecordingListener<String, FakeConnection> late = new RecordingListener<>();
    pc.subscribe(late);
    h.advance(seconds(100));
    late.expect("Disconnected");
  }

  @Test
  void subscribeWhileTheCloseWaitsForItsConnection_receivesOnlyTheComingDisconnected() {
    connectsSlowToClose();
    PersistentConnection<String, FakeConnection> pc = h.start();
    h.events.expect("AttemptingToConnect", "ObtainedAddress a", "Connected slow");
    pc.close(); // the connection's close finishes later: Disconnected is still to come
    RecordingListener<String, FakeConnection> late = new RecordingListener<>();
    pc.subscribe(late);
    late.expect(); // not the Connected before the close: it is not the last event
    h.made.get(0).finishClosing();
    late.expect("Disconnected");
    h.events.expect("Disconnected");
    assertTrue(pc.closeFinished().isDone());
  }

  @Test
  void schedulerThatRejects_isLogged_andThePersistentConnectionClosesItself() {
    PersistentConnection<String, FakeConnection> pc = h.start();
    h.time.shutdown();
    h.advance(seconds(60));
    h.made.get(0).drop(); // the next round needs a timer, which the scheduler rejects
    assertTrue(pc.isClosed());
    assertTrue(pc.closeFinished().isDone());
    assertTrue(
        h.logger.lines().stream()
            .anyMatch(line -> line.level() == Level.ERROR && line.message().contains("rejected")));
    h.events.expect("AttemptingToConnect", "ObtainedAddress a", "Connected c1", "Disconnected", "AttemptingToConnect");
  }

  /** A scheduler that fails otherwise than by rejecting is taken as rejecting: never stuck. */
  @org.junit.jupiter.params.ParameterizedTest
  @org.junit.jupiter.params.provider.ValueSource(strings = {"throws", "returns null", "throws an Error"})
  void schedulerThatThrowsOrReturnsNull_isLogged_andThePersistentConnectionClosesItself(
      String how) {
    java.util.concurrent.atomic.AtomicBoolean broken = new java.util.concurrent.atomic.AtomicBoolean();
    h.scheduler =
        (java.util.concurrent.ScheduledExecutorService)
            java.lang.reflect.Proxy.newProxyInstance(
                getClass().getClassLoader(),
                new Class<?>[] {java.util.concurrent.ScheduledExecutorService.class},
                (proxy, method, args) -> {
                  if (broken.get() && method.getName().equals("schedule")) {
                    switch (how) {
                      case "returns null":
                        return null;
                      case "throws an Error": // as a pool that cannot start a thread
                        throw new OutOfMemoryError("unable to create native thread");
                      default:
                        throw new IllegalStateException("the scheduler is broken");
                    }
                  }
                  try {
                    return method.invoke(h.time, args);
                  } catch (java.lang.reflect.InvocationTargetException e) {
                    throw java.util.Objects.requireNonNull(e.getCause());
                  }
                });
    PersistentConnection<String, FakeConnection> pc = h.start();
    h.events.expect("AttemptingToConnect", "ObtainedAddress a", "Connected c1");
    h.advance(seconds(60)); // a long-lived connection: its drop starts the next round at once
    broken.set(true);
    h.made.get(0).drop(); // the next round needs a timer, which the scheduler fails to give
    h.time.runDueTasks();
    assertTrue(pc.isClosed());
    assertTrue(pc.closeFinished().isDone());
    assertEquals(ConnectionState.Status.CLOSED, pc.state().status());
    assertTrue(
        h.logger.lines().stream()
            .anyMatch(line -> line.level() == Level.ERROR && line.message().contains("rejected")));
    h.events.expect("Disconnected", "AttemptingToConnect");
  }

  @Test
  void schedulerAlreadyShutDown_atBuild_closesAtOnce() {
    h.time.shutdown();
    PersistentConnection<String, FakeConnection> pc = h.builder().build();
    assertTrue(pc.isClosed());
    assertTrue(pc.closeFinished().isDone());
    assertEquals(0, h.lookups);
  }

  @SuppressWarnings("unchecked")
  private static PersistentConnection<String, FakeConnection>[] newArray() {
    return (PersistentConnection<String, FakeConnection>[]) new PersistentConnection<?, ?>[1];
  }
}
