package dev.tether.kotlin

import com.google.common.util.concurrent.Futures
import dev.tether.AddressLookup
import dev.tether.ConnectAttemptException
import dev.tether.ConnectionState
import dev.tether.ConnectionState.Status.CLOSED
import dev.tether.ConnectionState.Status.CLOSING
import dev.tether.ConnectionState.Status.CONNECTED
import dev.tether.ConnectionState.Status.CONNECTING
import dev.tether.ConnectionState.Status.WAITING_TO_RETRY
import dev.tether.Event
import dev.tether.EventListener
import dev.tether.PersistentConnection
import dev.tether.StateListener
import dev.tether.Subscription
import dev.tether.testing.IdleConnection
import dev.tether.testing.VirtualTimeScheduler
import java.util.concurrent.atomic.AtomicInteger
import kotlin.time.Duration.Companion.milliseconds
import kotlin.time.Duration.Companion.seconds
import kotlin.time.toJavaDuration
import kotlinx.coroutines.CompletableDeferred
import kotlinx.coroutines.ExperimentalCoroutinesApi
import kotlinx.coroutines.async
import kotlinx.coroutines.awaitCancellation
import kotlinx.coroutines.flow.first
import kotlinx.coroutines.flow.toList
import kotlinx.coroutines.launch
import kotlinx.coroutines.test.StandardTestDispatcher
import kotlinx.coroutines.test.TestScope
import kotlinx.coroutines.test.UnconfinedTestDispatcher
import kotlinx.coroutines.test.advanceTimeBy
import kotlinx.coroutines.test.runCurrent
import kotlinx.coroutines.test.runTest
import kotlinx.coroutines.withTimeout
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertInstanceOf
import org.junit.jupiter.api.Assertions.assertSame
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows

/**
 * The Kotlin face on virtual time: the loop's timers on a [VirtualTimeScheduler], the suspend
 * lambdas on the test's dispatcher, collectors on an unconfined test dispatcher (so that they take
 * each element as it comes). Nothing sleeps.
 */
@OptIn(ExperimentalCoroutinesApi::class)
class FlowsTest {
  private val scheduler = VirtualTimeScheduler.create()

  /** Runs the loop's due timers and the test's coroutines until neither has anything to do. */
  private fun TestScope.settle() {
    do {
      runCurrent()
    } while (scheduler.runDueTasks() > 0)
    runCurrent()
  }

  /** Advances the loop's clock by [millis], settling after each due timer. */
  private fun TestScope.advance(millis: Long) {
    scheduler.advance(millis.milliseconds.toJavaDuration())
    settle()
  }

  private fun TestScope.connection(
    configure: PersistentConnectionSpec<String, IdleConnection>.() -> Unit
  ): PersistentConnection<String, IdleConnection> =
    persistentConnection("svc") {
      retryDelay = 1.seconds
      randomizeRetryDelay = false
      scheduler = this@FlowsTest.scheduler
      context = StandardTestDispatcher(testScheduler)
      configure()
    }

  private fun describe(event: Event<String, IdleConnection>): String =
    when (event) {
      is Event.AttemptingToConnect -> "AttemptingToConnect"
      is Event.ObtainedAddress -> "ObtainedAddress ${event.address()}"
      is Event.FailedToConnect -> "FailedToConnect ${(event.error() as? ConnectAttemptException)?.stage()}"
      is Event.Connected -> "Connected"
      is Event.Disconnected -> "Disconnected"
    }

  private fun describe(state: ConnectionState<String, IdleConnection>): String =
    state.status().toString() + (state.address()?.let { " $it" } ?: "")

  @Test
  fun aScriptedRun_isSeenWholeThroughStatesAndEvents_andBothFlowsEndAtClose() = runTest {
    val made = mutableListOf<IdleConnection>()
    val lookups = AtomicInteger()
    val connection = connection {
      lookup { "a${lookups.getAndIncrement()}" }
      connector { address ->
        check(address != "a1") { "refused" }
        IdleConnection().also { made += it }
      }
    }
    val collectors = UnconfinedTestDispatcher(testScheduler)
    val states = async(collectors) { connection.states().toList() }
    val events = async(collectors) { connection.events().toList() }
    settle()
    made.single().drop() // young: the next round waits for the timer
    settle()
    advance(1_000) // a1 is refused
    advance(1_000) // a2
    assertEquals(2, made.size)
    connection.close()
    settle()

    assertEquals(
      listOf(
        "AttemptingToConnect",
        "ObtainedAddress a0",
        "Connected",
        "Disconnected",
        "AttemptingToConnect",
        "ObtainedAddress a1",
        "FailedToConnect CONNECT", // the round goes on: no new AttemptingToConnect
        "ObtainedAddress a2",
        "Connected",
        "Disconnected",
      ),
      events.await().map(::describe),
    )
    val seen = states.await()
    assertEquals(
      listOf(
        "WAITING_TO_RETRY", // before the first round
        "CONNECTING",
        "CONNECTING a0",
        "CONNECTED a0",
        "WAITING_TO_RETRY a0", // a young connection dropped: the last address stays
        "CONNECTING",
        "CONNECTING a1",
        "WAITING_TO_RETRY a1", // refused
        "CONNECTING a1",
        "CONNECTING a2",
        "CONNECTED a2",
        "CLOSING a2",
        "CLOSING a2", // its connection closed
        "CLOSED a2",
      ),
      seen.map(::describe),
    )
    assertSame(made[1], seen.first { it.address() == "a2" && it.status() == CONNECTED }.connection())
    assertInstanceOf(ConnectAttemptException::class.java, seen[7].lastFailure())
  }

  @Test
  fun aFlowCollectedAfterClose_getsTheEndAndCompletes() = runTest {
    val connection = connection {
      lookup { "a" }
      connector { IdleConnection() }
    }
    settle()
    connection.close()
    settle()
    assertEquals(listOf("Disconnected"), connection.events().toList().map(::describe))
    assertEquals(listOf(CLOSED), connection.states().toList().map { it.status() })
  }

  /** A connection whose closing finishes only when [finish] is called. */
  private class SlowToClose : dev.tether.Closable {
    private val closed = java.util.concurrent.atomic.AtomicBoolean()
    private val finished = com.google.common.util.concurrent.SettableFuture.create<Void?>()

    @Suppress("UNCHECKED_CAST") // Void's only value is null
    private val finishedFuture = finished as com.google.common.util.concurrent.ListenableFuture<Void>

    fun finish() {
      finished.set(null)
    }

    override fun close(): com.google.common.util.concurrent.ListenableFuture<Void> {
      closed.set(true)
      return finishedFuture
    }

    override fun isClosed(): Boolean = closed.get()

    override fun closeFinished(): com.google.common.util.concurrent.ListenableFuture<Void> = finishedFuture
  }

  @Test
  fun events_endOnlyOnceClosingHasFinished() = runTest {
    val slow = SlowToClose()
    val connection = persistentConnection<String, SlowToClose>("svc") {
      retryDelay = 1.seconds
      scheduler = this@FlowsTest.scheduler
      context = StandardTestDispatcher(testScheduler)
      lookup { "a" }
      connector { slow }
    }
    val finishedWhenTheFlowEnded = CompletableDeferred<Boolean>()
    val collected =
      async(UnconfinedTestDispatcher(testScheduler)) {
        connection.events().toList().also {
          finishedWhenTheFlowEnded.complete(connection.closeFinished().isDone)
        }
      }
    settle()
    connection.close()
    settle()
    assertEquals(CLOSING, connection.state().status(), "the connection is still closing")
    assertFalse(collected.isCompleted, "the flow ended before closeFinished()")
    slow.finish()
    settle()
    assertTrue(finishedWhenTheFlowEnded.await(), "the flow ended before closeFinished() completed")
    assertEquals(
      listOf("AttemptingToConnect", "ObtainedAddress a", "Connected", "Disconnected"),
      collected.await().map {
        when (it) {
          is Event.AttemptingToConnect -> "AttemptingToConnect"
          is Event.ObtainedAddress -> "ObtainedAddress ${it.address()}"
          is Event.Connected -> "Connected"
          is Event.Disconnected -> "Disconnected"
          is Event.FailedToConnect -> "FailedToConnect"
        }
      },
    )
  }

  @Test
  fun cancellingACollector_closesItsSubscriptions() = runTest {
    val counting = Counting(connection {
      lookup { "a" }
      connector { IdleConnection() }
    })
    val collectors = UnconfinedTestDispatcher(testScheduler)
    val events = launch(collectors) { counting.events().collect {} }
    val states = launch(collectors) { counting.states().collect {} }
    settle()
    assertEquals(3, counting.open.get()) // events() holds two: its events, and the end
    events.cancel()
    states.cancel()
    settle()
    assertEquals(0, counting.open.get())
    assertEquals(CONNECTED, counting.state().status()) // the connection did not notice
    counting.close()
    settle()
  }

  @Test
  fun aCollectorThatStopsEarlyOrThrows_closesItsSubscriptions() = runTest {
    val counting = Counting(connection {
      lookup { "a" }
      connector { IdleConnection() }
    })
    settle()
    assertEquals(CONNECTED, counting.states().first().status())
    assertInstanceOf(Event.Connected::class.java, counting.events().first()) // the last event
    assertEquals(0, counting.open.get(), "first() unsubscribed")
    val fromStates =
      assertThrows<IllegalStateException> { counting.states().collect { error("downstream broke") } }
    val fromEvents =
      assertThrows<IllegalStateException> { counting.events().collect { error("downstream broke") } }
    assertEquals("downstream broke", fromStates.message)
    assertEquals("downstream broke", fromEvents.message)
    assertEquals(0, counting.open.get(), "a collector that threw unsubscribed")
    assertEquals(CONNECTED, counting.state().status()) // the connection did not notice
    counting.close()
    settle()
  }

  @Test
  fun events_whoseStateSubscriptionThrows_failsTheCollector_andClosesTheEventSubscription() = runTest {
    val counting = Counting(connection {
      lookup { "a" }
      connector { IdleConnection() }
    }, refuseStates = true)
    val error = assertThrows<IllegalStateException> { counting.events().collect {} }
    assertEquals("no state subscriptions here", error.message)
    assertEquals(0, counting.open.get())
    counting.close()
    settle()
  }

  @Test
  fun awaitConnected_cancelledInOneCaller_disturbsNeitherTheConnectionNorOtherCallers() = runTest {
    val gate = CompletableDeferred<String>()
    val connection = connection {
      lookup { gate.await() }
      connector { IdleConnection() }
    }
    val first = async { connection.awaitConnected() }
    val second = async { connection.awaitConnected() }
    settle()
    first.cancel()
    settle()
    gate.complete("a")
    settle()
    assertSame(connection.currentConnection(), second.await())
    assertTrue(first.isCancelled)
    assertEquals(CONNECTED, connection.state().status())
    assertEquals(0, connection.state().consecutiveFailures())
    connection.close()
    settle()
  }

  @Test
  fun aLambdaThatClosesItsOwnConnection_endsItCleanly_withNoFailureReported() = runTest {
    for (stage in listOf("lookup", "connect")) {
      lateinit var self: PersistentConnection<String, IdleConnection>
      val made = mutableListOf<IdleConnection>()
      self = connection {
        lookup {
          if (stage == "lookup") {
            self.close()
          }
          "a"
        }
        connector {
          if (stage == "connect") {
            self.close()
          }
          IdleConnection().also { made += it }
        }
      }
      val events = async(UnconfinedTestDispatcher(testScheduler)) { self.events().toList() }
      settle()
      assertEquals(CLOSED, self.state().status(), stage)
      assertTrue(self.closeFinished().isDone, stage)
      assertTrue(made.all { it.isClosed }, "$stage: a connection made anyway is closed")
      assertTrue(
        events.await().map(::describe).none { it.startsWith("FailedToConnect") || it == "Connected" },
        stage,
      )
    }
  }

  @Test
  fun aSuspendedLookup_isCancelledByClose_withNoFailureReported() = runTest {
    val cancelled = CompletableDeferred<Unit>()
    val connection = connection {
      lookup {
        try {
          awaitCancellation()
        } finally {
          cancelled.complete(Unit)
        }
      }
      connector { IdleConnection() }
    }
    val events = async(UnconfinedTestDispatcher(testScheduler)) { connection.events().toList() }
    settle()
    assertEquals(CONNECTING, connection.state().status())
    val closed = connection.close()
    settle()
    assertTrue(cancelled.isCompleted)
    assertTrue(closed.isDone)
    assertEquals(listOf("AttemptingToConnect"), events.await().map(::describe))
    assertEquals(CLOSED, connection.state().status())
  }

  @Test
  fun aSuspendedConnectAndInitializer_areCancelledByClose() = runTest {
    for (stage in listOf("connect", "initialize")) {
      val cancelled = CompletableDeferred<Unit>()
      val made = mutableListOf<IdleConnection>()
      val connection = connection {
        lookup { "a" }
        connector {
          if (stage == "connect") {
            try {
              awaitCancellation()
            } finally {
              cancelled.complete(Unit)
            }
          }
          IdleConnection().also { made += it }
        }
        initializer {
          try {
            awaitCancellation()
          } finally {
            cancelled.complete(Unit)
          }
        }
      }
      settle()
      assertEquals(CONNECTING, connection.state().status(), stage)
      connection.close()
      settle()
      assertTrue(cancelled.isCompleted, stage)
      assertTrue(connection.closeFinished().isDone, stage)
      assertTrue(made.all { it.isClosed }, stage) // the one being initialized is closed
    }
  }

  @Test
  fun theInitializer_runsBeforeTheConnectionIsPublished() = runTest {
    val ready = CompletableDeferred<Unit>()
    val prepared = mutableListOf<IdleConnection>()
    val connection = connection {
      lookup { "a" }
      connector { IdleConnection() }
      initializer { c ->
        ready.await()
        prepared += c
      }
    }
    settle()
    assertEquals(CONNECTING, connection.state().status())
    ready.complete(Unit)
    settle()
    assertSame(prepared.single(), connection.currentConnection())
    connection.close()
    settle()
  }

  @Test
  fun stateFlow_inATestScope_followsTheLoopAndKeepsClosed() = runTest {
    val gate = CompletableDeferred<String>()
    val connection = connection {
      lookup { gate.await() }
      connector { IdleConnection() }
    }
    val flow = connection.stateFlow(backgroundScope)
    assertEquals(WAITING_TO_RETRY, flow.value.status())
    settle()
    assertEquals(CONNECTING, flow.value.status())
    gate.complete("a")
    settle()
    assertEquals(CONNECTED, flow.value.status())
    assertSame(connection.currentConnection(), flow.value.connection())
    connection.close()
    settle()
    assertEquals(CLOSED, flow.value.status())
    assertEquals(CLOSED, flow.first { it.status() == CLOSED }.status())
  }

  @Test
  fun aLookupThatThrows_failsTheAttemptNamingTheLookup() = runTest {
    val connection = connection {
      lookup { throw IllegalArgumentException("no such service") }
      connector { IdleConnection() }
    }
    val outcome = async { runCatching { connection.awaitConnectedOrFailedToConnect() } }
    settle()
    val error = outcome.await().exceptionOrNull()
    assertInstanceOf(ConnectAttemptException::class.java, error)
    error as ConnectAttemptException
    assertEquals(ConnectAttemptException.Stage.LOOKUP, error.stage())
    assertTrue(error.message!!.startsWith("address lookup failed"), error.message)
    assertTrue(error.message!!.contains("no such service"), error.message)
    assertEquals(WAITING_TO_RETRY, connection.state().status()) // and the loop goes on
    connection.close()
    settle()
  }

  @Test
  fun aLookupCancelledFromInside_isAFailureNamingTheLookup() = runTest {
    val connection = connection {
      lookup { withTimeout(100.milliseconds) { awaitCancellation() } }
      connector { IdleConnection() }
    }
    val outcome = async { runCatching { connection.awaitConnectedOrFailedToConnect() } }
    settle()
    advanceTimeBy(101.milliseconds)
    settle()
    val error = outcome.await().exceptionOrNull() as ConnectAttemptException
    assertEquals(ConnectAttemptException.Stage.LOOKUP, error.stage())
    assertTrue(error.message!!.contains("the lookup was cancelled from inside"), error.message)
    assertEquals(1, connection.state().consecutiveFailures())
    connection.close()
    settle()
  }

  @Test
  fun aCancellationFromInsideWhoseTextThrows_isStillAFailureOfTheLookup() = runTest {
    val connection = connection {
      lookup {
        throw object : kotlinx.coroutines.CancellationException("a user's own") {
          override fun toString(): String = throw IllegalStateException("no text")
        }
      }
      connector { IdleConnection() }
    }
    val outcome = async { runCatching { connection.awaitConnectedOrFailedToConnect() } }
    settle()
    val error = outcome.await().exceptionOrNull() as ConnectAttemptException
    assertEquals(ConnectAttemptException.Stage.LOOKUP, error.stage())
    assertEquals("the lookup was cancelled from inside", error.cause!!.message)
    connection.close()
    settle()
  }

  @Test
  fun awaitConnectedOrFailedToConnect_afterClose_throwsIllegalState() = runTest {
    val connection = connection {
      lookup { "a" }
      connector { IdleConnection() }
    }
    connection.close()
    settle()
    assertThrows<IllegalStateException> { connection.awaitConnectedOrFailedToConnect() }
  }

  @Test
  fun aLookupThatReturnsFutures_isCalledAsItIs_inTheLoopsStep_oncePerAttempt() = runTest {
    var asked = 0
    val answers = ArrayDeque(listOf("a", "b"))
    val connection = connection {
      lookup(
        AddressLookup {
          asked++
          Futures.immediateFuture(answers.removeFirst())
        }
      )
      connector { IdleConnection() }
    }
    assertEquals(0, asked)
    // Only the loop's step runs here, not the spec's dispatcher: a suspend lookup would still be
    // queued on it; this one was called in the step.
    scheduler.runDueTasks()
    assertEquals(1, asked)
    settle()
    assertEquals("a", connection.state().address())
    (connection.currentConnection() as IdleConnection).drop()
    advance(1_000) // a young connection's drop: the next round after the retry delay
    assertEquals("b", connection.state().address())
    assertEquals(2, asked)
    connection.close()
    settle()
  }

  @Test
  fun badInput_failsAtOnceNamingTheOption() {
    val noLookup =
      assertThrows<IllegalStateException> {
        persistentConnection<String, IdleConnection>("svc") { connector { IdleConnection() } }
      }
    assertEquals("persistentConnection(\"svc\") { }: lookup { } is not set", noLookup.message)
    val noConnector =
      assertThrows<IllegalStateException> { persistentConnection<String, IdleConnection>("svc") { lookup { "a" } } }
    assertEquals("persistentConnection(\"svc\") { }: connector { } is not set", noConnector.message)
    val twice =
      assertThrows<IllegalStateException> {
        persistentConnection<String, IdleConnection>("svc") {
          lookup { "a" }
          lookup { "b" }
        }
      }
    assertEquals("lookup { } is already set", twice.message)
    val twiceInTwoForms =
      assertThrows<IllegalStateException> {
        persistentConnection<String, IdleConnection>("svc") {
          lookup { "a" }
          lookup(AddressLookup { Futures.immediateFuture("b") })
        }
      }
    assertEquals("lookup { } is already set", twiceInTwoForms.message)
    val negative =
      assertThrows<IllegalArgumentException> {
        persistentConnection<String, IdleConnection>("svc") { retryDelay = (-1).seconds }
      }
    assertTrue(negative.message!!.startsWith("retryDelay must be finite and not negative"))
    val job =
      assertThrows<IllegalArgumentException> {
        persistentConnection<String, IdleConnection>("svc") { context = kotlinx.coroutines.Job() }
      }
    assertTrue(job.message!!.startsWith("context must not contain a Job"))
    assertThrows<IllegalArgumentException> {
      persistentConnection<String, IdleConnection>(" ") {}
    }
  }

  @Test
  fun aRetryDelayFunction_isAskedWithTheFailureCount() = runTest {
    val asked = mutableListOf<Int>()
    val connection = connection {
      lookup { error("down") }
      connector { IdleConnection() }
      retryDelay { failures -> asked += failures; java.time.Duration.ofSeconds(failures.toLong()) }
    }
    settle()
    advance(1_000)
    advance(2_000)
    assertEquals(listOf(0, 1, 2, 3), asked)
    assertFalse(connection.state().status() == CONNECTED)
    connection.close()
    settle()
  }

  @Test
  fun aDispatchedCollector_subscribesInCollect_andGetsEveryEventInOrder() = runTest {
    val lookups = AtomicInteger()
    val made = mutableListOf<IdleConnection>()
    val connection = connection {
      lookup { "a${lookups.getAndIncrement()}" }
      connector { IdleConnection().also { made += it } }
    }
    val events = mutableListOf<String>()
    val states = mutableListOf<ConnectionState.Status>()
    // Not run until the test yields: collection starts, and subscribes, inside collect().
    launch(start = kotlinx.coroutines.CoroutineStart.UNDISPATCHED) {
      connection.events().collect { events += describe(it) }
    }
    launch(start = kotlinx.coroutines.CoroutineStart.UNDISPATCHED) {
      connection.states().collect { states += it.status() }
    }
    scheduler.runDueTasks() // the first round, before either collector ran a step
    advance(5_000)
    made.single().drop() // old: the next round at once
    scheduler.runDueTasks()
    testScheduler.runCurrent() // the lambdas; the collectors are on this dispatcher too
    connection.close()
    settle()
    assertEquals(
      listOf(
        "AttemptingToConnect",
        "ObtainedAddress a0",
        "Connected",
        "Disconnected",
        "AttemptingToConnect",
        "ObtainedAddress a1",
        "Connected",
        "Disconnected",
      ),
      events,
    )
    assertEquals(WAITING_TO_RETRY, states.first()) // conflated: the first, then the latest
    assertEquals(CLOSED, states.last())
  }

  @Test
  fun aConnectionReturnedDespiteCancellation_isClosed_andCloseFinishedWaitsForIt() = runTest {
    val gate = CompletableDeferred<Unit>()
    val late = IdleConnection()
    val connection = connection {
      lookup { "a" }
      connector {
        kotlinx.coroutines.withContext(kotlinx.coroutines.NonCancellable) { gate.await() }
        late
      }
    }
    settle()
    connection.close()
    settle()
    assertFalse(connection.closeFinished().isDone, "waits for the connector")
    gate.complete(Unit)
    settle()
    assertTrue(late.isClosed)
    assertTrue(connection.closeFinished().isDone)
  }

  @Test
  fun whatALambdaThrowsAfterItsCancellation_escapesNowhere() = runTest {
    val connection = connection {
      lookup { "a" }
      connector {
        try {
          awaitCancellation()
        } finally {
          throw java.io.IOException("socket closed while cancelling")
        }
      }
    }
    settle()
    connection.close()
    settle() // runTest fails the test if anything reached an uncaught-exception handler
    assertTrue(connection.closeFinished().isDone)
  }

  /** Counts the subscriptions that are open. */
  private class Counting(
    private val delegate: PersistentConnection<String, IdleConnection>,
    private val refuseStates: Boolean = false,
  ) : PersistentConnection<String, IdleConnection> by delegate {
    val open = AtomicInteger()

    private fun counted(subscription: Subscription): Subscription {
      open.incrementAndGet()
      val closed = java.util.concurrent.atomic.AtomicBoolean()
      return Subscription {
        if (closed.compareAndSet(false, true)) {
          open.decrementAndGet()
        }
        subscription.close()
      }
    }

    override fun subscribe(listener: EventListener<String, IdleConnection>): Subscription =
      counted(delegate.subscribe(listener))

    override fun subscribeState(listener: StateListener<String, IdleConnection>): Subscription {
      check(!refuseStates) { "no state subscriptions here" }
      return counted(delegate.subscribeState(listener))
    }
  }
}
