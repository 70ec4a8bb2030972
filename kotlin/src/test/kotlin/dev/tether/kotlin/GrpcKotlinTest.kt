package dev.tether.kotlin

import dev.tether.ConnectionState.Status.CONNECTED
import dev.tether.grpc.Echo
import dev.tether.grpc.GrpcConnector
import dev.tether.grpc.PersistentChannel
import dev.tether.testing.grpc.InProcessServers
import io.grpc.CallOptions
import io.grpc.Metadata
import io.grpc.kotlin.ClientCalls
import java.time.Duration
import kotlin.time.Duration.Companion.milliseconds
import kotlin.time.Duration.Companion.seconds
import kotlinx.coroutines.flow.first
import kotlinx.coroutines.flow.flowOf
import kotlinx.coroutines.flow.toList
import kotlinx.coroutines.guava.await
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeout
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.extension.RegisterExtension

/**
 * grpc-kotlin's coroutine calls (`io.grpc.kotlin.ClientCalls`, what generated coroutine stubs
 * call) over a [PersistentChannel] of a [grpcPersistentConnection], against a real in-process
 * server: unary, server and bidirectional streaming, across a server restart.
 */
class GrpcKotlinTest {
  @JvmField @RegisterExtension val servers: InProcessServers = InProcessServers.create()

  private val waitForReady: CallOptions = CallOptions.DEFAULT.withWaitForReady()

  @Test
  fun coroutineCalls_workOverAPersistentChannel_acrossARestart() = runBlocking {
    val server = servers.start(Echo.service("kt"))
    val connection =
      grpcPersistentConnection("echo", InProcessServers.channels()) {
        lookup { server.name() }
        retryDelay = 50.milliseconds
      }
    try {
      withTimeout(20.seconds) {
        val channel = PersistentChannel.of(connection)
        assertEquals("kt: hi", ClientCalls.unaryRpc(channel, Echo.SAY, "hi", waitForReady, Metadata()))
        assertEquals(
          listOf("kt: 0", "kt: 1", "kt: 2"),
          ClientCalls.serverStreamingRpc(channel, Echo.REPEAT, "3", waitForReady, Metadata()).toList(),
        )
        assertEquals(
          listOf("kt: a", "kt: b"),
          ClientCalls.bidiStreamingRpc(channel, Echo.CHAT, flowOf("a", "b"), waitForReady, Metadata())
            .toList(),
        )

        server.stop()
        server.restart()
        // Wait-for-ready: the call waits for the next connection, then goes through.
        assertEquals("kt: back", ClientCalls.unaryRpc(channel, Echo.SAY, "back", waitForReady, Metadata()))
        assertEquals(CONNECTED, connection.states().first { it.status() == CONNECTED }.status())
      }
    } finally {
      withTimeout(10.seconds) { connection.close().await() }
    }
    Unit
  }

  @Test
  fun theConnector_mayBeReplaced_withAGrpcConnectorOfOtherOptions() = runBlocking {
    val server = servers.start(Echo.service("kt"))
    val connector =
      GrpcConnector.builder(InProcessServers.channels()).connectTimeout(Duration.ofSeconds(5)).build()
    val used = java.util.concurrent.atomic.AtomicInteger()
    val connection =
      grpcPersistentConnection("echo", InProcessServers.channels()) {
        lookup { server.name() }
        connector(
          dev.tether.Connector { address ->
            used.incrementAndGet()
            connector.connect(address)
          }
        )
      }
    try {
      val connected = withTimeout(10.seconds) { connection.awaitConnectedOrFailedToConnect() }
      assertEquals(server.name(), connected.address())
      assertEquals(1, used.get())
    } finally {
      withTimeout(10.seconds) { connection.close().await() }
    }
    Unit
  }

  @Test
  fun theDefaultConnector_timesItsConnectsOnTheSpecsScheduler() = runBlocking {
    // A listener that never answers the HTTP/2 handshake: only the connect timeout ends the attempt.
    java.net.ServerSocket(0, 50, java.net.InetAddress.getByAddress(byteArrayOf(127, 0, 0, 1))).use { silent ->
      val time = dev.tether.testing.VirtualTimeScheduler.create()
      val failed = kotlinx.coroutines.CompletableDeferred<dev.tether.Event.FailedToConnect<*, *>>()
      val connection =
        grpcPersistentConnection("silent", dev.tether.grpc.ChannelFactory.plaintext()) {
          lookup { com.google.common.net.HostAndPort.fromParts("127.0.0.1", silent.localPort) }
          scheduler = time
          onEvent { event -> if (event is dev.tether.Event.FailedToConnect<*, *>) failed.complete(event) }
        }
      try {
        withTimeout(10.seconds) {
          while (connection.state().attempts() == 0L) {
            time.runDueTasks()
            kotlinx.coroutines.delay(10)
          }
          // The lookup runs on the spec's context; then the connect waits for its virtual timeout.
          while (!failed.isCompleted) {
            time.advance(java.time.Duration.ofSeconds(GrpcConnector.DEFAULT_CONNECT_TIMEOUT_SECONDS + 1L))
            kotlinx.coroutines.delay(10)
          }
        }
        val error = failed.await().error() as dev.tether.ConnectAttemptException
        assertEquals(dev.tether.ConnectAttemptException.Stage.CONNECT, error.stage(), error.toString())
      } finally {
        connection.close()
        time.advance(java.time.Duration.ofMinutes(1))
      }
    }
  }
}
