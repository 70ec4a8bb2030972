package dev.tether.it

import com.google.common.util.concurrent.Futures
import dev.tether.Event
import dev.tether.PersistentConnection
import dev.tether.RetryDelay
import dev.tether.grpc.Echo
import dev.tether.grpc.GrpcConnection
import dev.tether.grpc.GrpcConnector
import dev.tether.grpc.PersistentChannel
import dev.tether.testing.grpc.InProcessServers
import java.time.Duration
import java.util.concurrent.TimeUnit
import kotlinx.coroutines.guava.await
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeout
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertSame
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.extension.RegisterExtension

/**
 * How the API reads from Kotlin: lambdas for the functional interfaces, a nullable
 * currentConnection(), an exhaustive `when` over the sealed events, and connected() awaited from
 * a coroutine. Compiled with JSpecify annotations read as strict.
 */
class KotlinCallersTest {
  @JvmField @RegisterExtension val servers: InProcessServers = InProcessServers.create()

  /** Every event as a line; no `else` branch: the compiler knows the five records. */
  private fun describe(event: Event<String, GrpcConnection<String>>): String =
    when (event) {
      is Event.AttemptingToConnect -> "AttemptingToConnect"
      is Event.ObtainedAddress -> "ObtainedAddress ${event.address()}"
      is Event.FailedToConnect -> "FailedToConnect ${event.error().message}"
      is Event.Connected -> "Connected ${event.connection().address()}"
      is Event.Disconnected -> "Disconnected"
    }

  @Test
  fun buildsWithLambdas_seesNullableCurrentConnection_andAwaitsConnectedInACoroutine() {
    val server = servers.start("kotlin-echo", Echo.service("kotlin"))
    val seen = mutableListOf<String>()
    val connection: PersistentConnection<String, GrpcConnection<String>> =
      GrpcConnector.persistentConnection("kotlin", InProcessServers.channels())
        .addressLookup { Futures.immediateFuture(server.name()) }
        .retryDelay(RetryDelay { failures -> Duration.ofMillis(50L * (failures + 1)) })
        .onEvent { event -> synchronized(seen) { seen += describe(event) } }
        .build()
    runBlocking {
      try {
        val connected: GrpcConnection<String> = withTimeout(10_000) { connection.connected().await() }
        assertEquals("kotlin-echo", connected.address())
        assertSame(connected, connection.currentConnection()?.takeIf { it.isReady })

        val stub = Echo.Stub(PersistentChannel.of(connection)).withDeadlineAfter(10, TimeUnit.SECONDS)
        assertEquals("kotlin: hi", stub.say("hi"))
      } finally {
        connection.close().await()
      }
    }
    assertNull(connection.currentConnection())
    synchronized(seen) {
      assertEquals(
        listOf("AttemptingToConnect", "ObtainedAddress kotlin-echo", "Connected kotlin-echo", "Disconnected"),
        seen,
      )
    }
  }

  // These two overloads tell a nullable type from a platform type: an argument of type T? fits
  // only the first; one of platform type T! fits both, and the more specific second one wins.
  @JvmName("nullableType") private fun nullness(@Suppress("UNUSED_PARAMETER") value: Any?): String = "nullable"
  @JvmName("nonNullType") private fun nullness(@Suppress("UNUSED_PARAMETER") value: Any): Int = 0

  @Test
  fun currentConnection_isNullableForTheCompiler() {
    val connection: PersistentConnection<String, GrpcConnection<String>> =
      GrpcConnector.persistentConnection("kotlin", InProcessServers.channels())
        .addressLookup { Futures.immediateFuture("nowhere") }
        .build()
    try {
      // Compiles only while currentConnection() is annotated @Nullable: without the annotation it
      // would be a platform type, resolve to the Int overload, and this line would not compile.
      val marker: String = nullness(connection.currentConnection())
      assertEquals("nullable", marker)
      // And serverName() is non-null under @NullMarked: no safe call needed.
      assertEquals(6, connection.serverName().length)
    } finally {
      connection.close()
    }
  }
}
