package dev.tether.examples

import dev.tether.ConnectionState.Status.CONNECTED
import dev.tether.Event
import dev.tether.grpc.ChannelFactory
import dev.tether.grpc.PersistentChannel
import dev.tether.kotlin.awaitConnectedOrFailedToConnect
import dev.tether.kotlin.events
import dev.tether.kotlin.grpcPersistentConnection
import dev.tether.kotlin.states
import io.grpc.CallOptions
import io.grpc.Metadata
import io.grpc.Server
import io.grpc.inprocess.InProcessServerBuilder
import io.grpc.kotlin.ClientCalls
import java.util.concurrent.TimeUnit
import kotlin.time.Duration.Companion.milliseconds
import kotlin.time.Duration.Companion.seconds
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.flow.first
import kotlinx.coroutines.guava.await
import kotlinx.coroutines.launch
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeout

/**
 * The quick start in Kotlin: a persistent gRPC connection built with the DSL, its states and
 * events collected as Flows, calls through grpc-kotlin's coroutine `ClientCalls` on a
 * [PersistentChannel], across a restart of the (in-process) server. Runs in a few seconds.
 *
 * `./mvnw -B -ntp -Pkotlin-demo -pl examples -am -DskipTests verify`
 */
fun main(): Unit = runBlocking {
  var server = start()
  val greeter =
    grpcPersistentConnection("greeter", ChannelFactory.inProcess()) {
      lookup { "greeter-1" } // suspend: a catalog's lookup would go here
      retryDelay = 200.milliseconds
    }
  // Unconfined: each line prints as the loop hands it over, in order with the script's lines.
  val states = launch(Dispatchers.Unconfined) {
    greeter.states().collect { println("state   ${it.status()} ${it.address() ?: ""}") }
  }
  val events = launch(Dispatchers.Unconfined) { greeter.events().collect { println("event   $it") } }

  val channel = PersistentChannel.of(greeter)
  val waitForReady = CallOptions.DEFAULT.withWaitForReady().withDeadlineAfter(5, TimeUnit.SECONDS)
  suspend fun hello() = ClientCalls.unaryRpc(channel, Greeter.HELLO, "hello", waitForReady, Metadata())

  withTimeout(10.seconds) {
    println("connected to ${greeter.awaitConnectedOrFailedToConnect().address()}")
    println("call    answered by ${hello()}")

    println("script  the server stops")
    server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS)
    greeter.states().first { it.status() != CONNECTED } // the drop is noticed
    println("script  the server starts again")
    server = start()
    println("call    answered by ${hello()} (it waited for the next connection)")
    greeter.events().first { it is Event.Connected } // announced before we close
  }

  greeter.close().await() // both flows end by themselves
  states.join()
  events.join()
  server.shutdownNow()
  println("closed")
}

private fun start(): Server =
  InProcessServerBuilder.forName("greeter-1").directExecutor().addService(Greeter.service("greeter-1")).build().start()
