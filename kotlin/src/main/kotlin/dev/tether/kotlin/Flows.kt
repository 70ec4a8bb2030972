@file:JvmName("TetherFlows")

package dev.tether.kotlin

import com.google.common.util.concurrent.MoreExecutors
import dev.tether.Closable
import dev.tether.ConnectAttemptException
import dev.tether.ConnectionState
import dev.tether.Event
import dev.tether.PersistentConnection
import dev.tether.Subscription
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.channels.Channel
import kotlinx.coroutines.flow.Flow
import kotlinx.coroutines.flow.SharingStarted
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.emitAll
import kotlinx.coroutines.flow.flow
import kotlinx.coroutines.flow.stateIn
import kotlinx.coroutines.guava.await

/**
 * The states of this persistent connection, as a cold [Flow]: each collector subscribes with
 * [PersistentConnection.subscribeState] in its call of `collect`, before it suspends, gets the current state first,
 * then every state that differs from the last one, and the flow completes after
 * [ConnectionState.Status.CLOSED]. The flow is conflated: a collector slower than the loop skips
 * intermediate states but always gets the latest, and `CLOSED` last. Cancelling the collector
 * closes its subscription.
 *
 * Collected on the collector's own dispatcher: the loop only hands states over and never waits for
 * a collector (unless it collects on [kotlinx.coroutines.Dispatchers.Unconfined], whose code then
 * runs inside the loop's step, as a listener's would).
 */
public fun <A : Any, C : Closable> PersistentConnection<A, C>.states(): Flow<ConnectionState<A, C>> =
  flow {
    val states = Channel<ConnectionState<A, C>>(Channel.CONFLATED)
    val subscription =
      subscribeState { state ->
        states.trySend(state) // conflated: never fails while the channel is open
        if (state.status() == ConnectionState.Status.CLOSED) {
          states.close()
        }
      }
    try {
      emitAll(states)
    } finally {
      subscription.close()
    }
  }

/**
 * The states of this persistent connection as a [StateFlow] that lives in [scope]: its value is
 * the current state at once, then follows [states] until `CLOSED`, which it keeps. Collection
 * starts at once and stops when [scope] is cancelled or the persistent connection is closed.
 */
public fun <A : Any, C : Closable> PersistentConnection<A, C>.stateFlow(
  scope: CoroutineScope
): StateFlow<ConnectionState<A, C>> = states().stateIn(scope, SharingStarted.Eagerly, state())

/**
 * The events of this persistent connection, as a cold [Flow]: each collector subscribes with
 * [PersistentConnection.subscribe] in its call of `collect`, before it suspends, gets the last event emitted before
 * that first (if there was one), then every later event, none lost, in order; the flow completes
 * after the final [Event.Disconnected], when closing finishes (as
 * [PersistentConnection.closeFinished] completes). Cancelling the collector closes its
 * subscriptions.
 *
 * Events wait for a slow collector in an unbounded buffer, so that none is lost and the loop never
 * waits: collect promptly, or use [states], which is conflated.
 */
public fun <A : Any, C : Closable> PersistentConnection<A, C>.events(): Flow<Event<A, C>> =
  flow {
    val events = Channel<Event<A, C>>(Channel.UNLIMITED)
    val subscription = subscribe { event -> events.trySend(event) } // unlimited: never fails
    // The loop hands out states and events in one order, and CLOSED comes after the final
    // Disconnected, just before closeFinished() completes. This subscription starts after the one
    // above, so the event that one gets first comes before any state this one gets. The flow
    // ends once closeFinished() has completed: a listener added only at CLOSED, so that
    // collectors that stop early leave nothing behind on a connection that lives on.
    var end: Subscription? = null
    try {
      end =
        subscribeState { state ->
          if (state.status() == ConnectionState.Status.CLOSED) {
            closeFinished().addListener({ events.close() }, MoreExecutors.directExecutor())
          }
        }
      emitAll(events)
    } finally {
      subscription.close() // also when subscribeState threw
      end?.close()
    }
  }

/**
 * Suspends until there is a connection, as [PersistentConnection.connected] does, and returns it.
 * Like that future, it never resumes after [PersistentConnection.close]: bound it with
 * `withTimeout`, or use [awaitConnectedOrFailedToConnect]. Cancelling the caller cancels only its
 * own wait, never the connection or other waiters.
 *
 * It resumes once the connection's [Event.Connected] was delivered: a `close()` made at once then
 * emits its `Disconnected` (see [PersistentConnection.close]).
 */
public suspend fun <C : Closable> PersistentConnection<*, C>.awaitConnected(): C = connected().await()

/**
 * Suspends until there is a connection or the next attempt fails, as
 * [PersistentConnection.connectedOrFailedToConnect] does; with a connection, once its
 * [Event.Connected] was delivered, as [awaitConnected] does.
 *
 * @throws ConnectAttemptException if the attempt fails; its stage says which part
 * @throws IllegalStateException if the persistent connection is closed, or closes meanwhile
 */
public suspend fun <C : Closable> PersistentConnection<*, C>.awaitConnectedOrFailedToConnect(): C =
  connectedOrFailedToConnect().await()
