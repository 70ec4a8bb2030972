package dev.tether.it

import dev.tether.ConnectionState
import dev.tether.ConnectionState.Status.CLOSED
import dev.tether.ConnectionState.Status.CONNECTED
import dev.tether.Event
import dev.tether.grpc.Echo
import dev.tether.grpc.GrpcConnection
import dev.tether.grpc.PersistentChannel
import dev.tether.kotlin.awaitConnected
import dev.tether.kotlin.events
import dev.tether.kotlin.grpcPersistentConnection
import dev.tether.kotlin.states
import dev.tether.testing.grpc.InProcessServers
import io.grpc.CallOptions
import io.grpc.Metadata
import io.grpc.kotlin.ClientCalls
import kotlin.time.Duration.Companion.milliseconds
import kotlin.time.Duration.Companion.seconds
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.channels.Channel
import kotlinx.coroutines.coroutineScope
import kotlinx.coroutines.flow.first
import kotlinx.coroutines.guava.await
import kotlinx.coroutines.launch
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeout
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.extension.RegisterExtension

/**
 * A Kotlin service collects `states()` and `events()` of a gRPC persistent connection while its
 * real in-process server is stopped and restarted three times under coroutine calls; what it
 * collected agrees: every Connected comes right after a CONNECTED state of that connection, every
 * FailedToConnect right after a state that carries it, both flows end at close, and the calls
 * made while the server was up all succeeded.
 */
class KotlinStatesTest {
  @JvmField @RegisterExtension val servers: InProcessServers = InProcessServers.create()

  private sealed interface Seen {
    data class State(val state: ConnectionState<String, GrpcConnection<String>>) : Seen
    data class Happened(val event: Event<String, GrpcConnection<String>>) : Seen
  }

  @Test
  fun collectedStates_matchTheEvents_acrossStopsAndRestarts() = runBlocking {
    val server = servers.start(Echo.service("kt"))
    val connection =
      grpcPersistentConnection("echo", InProcessServers.channels()) {
        lookup { server.name() }
        retryDelay = 20.milliseconds
      }
    val timeline = mutableListOf<Seen>() // one order: both collectors run inside the loop's deliveries
    val failures = Channel<Unit>(Channel.UNLIMITED)
    withTimeout(60.seconds) {
      coroutineScope {
        val states = launch(Dispatchers.Unconfined) {
          connection.states().collect { synchronized(timeline) { timeline += Seen.State(it) } }
        }
        val events = launch(Dispatchers.Unconfined) {
          connection.events().collect {
            synchronized(timeline) { timeline += Seen.Happened(it) }
            if (it is Event.FailedToConnect) {
              failures.trySend(Unit)
            }
          }
        }
        val channel = PersistentChannel.of(connection)
        val waitForReady = CallOptions.DEFAULT.withWaitForReady()
        repeat(3) { round ->
          connection.awaitConnected()
          repeat(20) { i ->
            assertEquals("kt: $round.$i", ClientCalls.unaryRpc(channel, Echo.SAY, "$round.$i", waitForReady, Metadata()))
          }
          server.stop()
          failures.receive() // refused while it is down
          server.restart()
        }
        // Not awaitConnected(): it resumes as the connection is published, and a close() before
        // its Connected is delivered would leave it unannounced (see PersistentConnection.close).
        connection.events().first { it is Event.Connected }
        connection.close().await()
        states.join() // both flows end by themselves at close
        events.join()
      }
    }

    val seen = synchronized(timeline) { timeline.toList() }
    val events = seen.filterIsInstance<Seen.Happened>().map { it.event }
    val states = seen.filterIsInstance<Seen.State>().map { it.state }
    assertEquals(4, events.count { it is Event.Connected }, events.joinToString { it.javaClass.simpleName })
    assertEquals(4, events.count { it is Event.Disconnected })
    assertTrue(events.count { it is Event.FailedToConnect } >= 3)
    assertTrue(events.last() is Event.Disconnected)
    assertEquals(CLOSED, states.last().status())
    for ((i, item) in seen.withIndex()) {
      if (item !is Seen.Happened) continue
      val before = seen.subList(0, i).filterIsInstance<Seen.State>().last().state
      when (val event = item.event) {
        is Event.Connected -> {
          assertEquals(CONNECTED, before.status(), "the state before $event")
          assertEquals(event.connection(), before.connection())
        }
        is Event.FailedToConnect -> assertEquals(event.error(), before.lastFailure())
        is Event.Disconnected -> assertTrue(before.status() != CONNECTED || before.connection() != null)
        else -> {}
      }
    }
  }
}
