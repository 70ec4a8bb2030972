@file:JvmName("TetherKotlin")

package dev.tether.kotlin

import com.google.common.util.concurrent.ForwardingListenableFuture
import com.google.common.util.concurrent.ListenableFuture
import com.google.common.util.concurrent.SettableFuture
import dev.tether.AddressLookup
import dev.tether.Closable
import dev.tether.ConnectionState
import dev.tether.ConnectionInitializer
import dev.tether.Connector
import dev.tether.Event
import dev.tether.EventListener
import dev.tether.PersistentConnection
import dev.tether.ReconnectBudget
import dev.tether.RetryDelay
import java.util.concurrent.ScheduledExecutorService
import kotlin.coroutines.CoroutineContext
import kotlin.time.Duration
import kotlin.time.toJavaDuration
import kotlin.time.toKotlinDuration
import kotlinx.coroutines.CancellationException
import kotlinx.coroutines.CoroutineName
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.Job
import kotlinx.coroutines.SupervisorJob
import kotlinx.coroutines.cancel
import kotlinx.coroutines.currentCoroutineContext
import kotlinx.coroutines.isActive
import kotlinx.coroutines.launch
import org.slf4j.Logger

/** Marks Tether's DSL, so that an inner block cannot reach an outer spec by accident. */
@DslMarker public annotation class TetherDsl

/**
 * Builds a [PersistentConnection] to the service called [serverName] and starts connecting:
 * ```
 * val orders = persistentConnection<HostAndPort, OrdersClient>("orders") {
 *   lookup { directory.find("orders") }              // your suspend function
 *   connector { address -> OrdersClient.connect(address) } // suspend
 *   retryDelay = 2.seconds
 * }
 * ```
 *
 * The suspend lambdas run in a [CoroutineScope] that the persistent connection owns, on
 * [PersistentConnectionSpec.context] ([Dispatchers.Default] unless set), and that `close()`
 * cancels. When the persistent connection cancels a lookup, connect or initializer (at `close()`,
 * or when a handover is abandoned), the lambda's coroutine is cancelled, and the persistent
 * connection waits for it to end: `closeFinished()` completes only after it, and a connection
 * that a connector returns in spite of the cancellation (from `withContext(NonCancellable)`, say)
 * is closed. Whatever a lambda throws becomes the attempt's failure; nothing reaches an
 * uncaught-exception handler.
 *
 * @throws IllegalStateException if [PersistentConnectionSpec.lookup] or
 *   [PersistentConnectionSpec.connector] was not set, naming it
 * @throws IllegalArgumentException if [serverName] is blank
 */
public fun <A : Any, C : Closable> persistentConnection(
  serverName: String,
  configure: PersistentConnectionSpec<A, C>.() -> Unit,
): PersistentConnection<A, C> = PersistentConnectionSpec<A, C>(serverName).apply(configure).build()

/**
 * The options of a persistent connection, set in the block of [persistentConnection] or
 * [grpcPersistentConnection]. Each option checks its argument at once. The lookup, connector and
 * initializer may each be set once (the connector [grpcPersistentConnection] sets may be replaced
 * once); the other options are properties, and the last value set wins. The options are copied
 * when the block returns: keeping a reference to the spec changes nothing later.
 *
 * Everything that is not a suspend lambda means what the option of the same name of
 * [PersistentConnection.Builder] means.
 */
@TetherDsl
public class PersistentConnectionSpec<A : Any, C : Closable>
internal constructor(private val serverName: String) {
  private var lookup: ((CoroutineScope) -> AddressLookup<A>)? = null
  /** Makes the connector in the connection's scope; the default one may be replaced once. */
  private var connector: ((CoroutineScope) -> Connector<A, C>)? = null
  private var connectorIsDefault = false
  private var initializer: (suspend (C) -> Unit)? = null
  private val listeners = mutableListOf<(Event<A, C>) -> Unit>()
  private var retryDelayFunction: RetryDelay? = null
  private var built = false

  init {
    require(serverName.isNotBlank()) { "serverName must not be blank" }
  }

  /**
   * Sets how each attempt gets the address: a suspend function, run on [context]. A throw, or a
   * cancellation from inside it (a `withTimeout` that expires, say), fails the attempt with a
   * [dev.tether.ConnectAttemptException] of stage `LOOKUP`. Required. It must suspend rather than
   * block: wrap blocking work in `withContext(Dispatchers.IO) { }`, as the default [context] is
   * `Dispatchers.Default`, whose threads the persistent connection's next steps may run on.
   */
  public fun lookup(block: suspend () -> A) {
    setLookup { scope -> AddressLookup { scope.futureOf("the lookup") { block() } } }
  }

  /**
   * Sets a lookup that returns futures, such as a `ZooKeeperCatalog`'s (`lookup(catalog.lookup(
   * "orders"))`), passed to the persistent connection as it is: it runs on the loop's threads (see
   * [PersistentConnection]), as in Java, must not block, and `close()` cancels its future.
   * Otherwise as the suspend `lookup { }`, which it excludes. A lambda that returns a future goes
   * through this one as `lookup(AddressLookup { future })`: a bare lambda is taken for the
   * suspend one.
   */
  public fun lookup(lookup: AddressLookup<A>) {
    setLookup { lookup }
  }

  private fun setLookup(make: (CoroutineScope) -> AddressLookup<A>) {
    check(lookup == null) { "lookup { } is already set" }
    lookup = make
  }

  /**
   * Sets how an address becomes a connection: a suspend function, run on [context]. Failures are
   * those of stage `CONNECT`. A connection that it returns after the attempt was cancelled is
   * closed by the persistent connection. Required, except with [grpcPersistentConnection].
   */
  public fun connector(block: suspend (A) -> C) {
    setConnector(false) { scope -> Connector { address -> scope.futureOf("the connector") { block(address) } } }
  }

  /**
   * Sets a connector that returns futures, such as a `GrpcConnector` with options of its own;
   * otherwise as the suspend `connector { }`, which it excludes. A lambda that returns a future
   * goes through this one as `connector(Connector { address -> future })`: a bare lambda is taken
   * for the suspend one.
   */
  public fun connector(connector: Connector<A, C>) {
    setConnector(false) { connector }
  }

  private fun setConnector(isDefault: Boolean, make: (CoroutineScope) -> Connector<A, C>) {
    check(connector == null || connectorIsDefault) { "connector { } is already set" }
    connector = make
    connectorIsDefault = isDefault
  }

  /**
   * Sets an initializer that prepares each new connection before it is published (see
   * [PersistentConnection.Builder.initializer]): a suspend function, run on [context]; the
   * connection becomes current only once it returns. Failures are those of stage `INITIALIZE`.
   */
  public fun initializer(block: suspend (C) -> Unit) {
    check(initializer == null) { "initializer { } is already set" }
    initializer = block
  }

  /**
   * Adds a listener of every event from the first on, called on the loop's threads (see
   * [PersistentConnection]); it must not block. May be called several times. A listener that
   * throws is logged and skipped. To consume events in a coroutine, collect [events] instead.
   */
  public fun onEvent(listener: (Event<A, C>) -> Unit) {
    listeners += listener
  }

  /**
   * A constant retry delay, finite and not negative. Default 10 seconds. Setting it replaces a
   * [RetryDelay] set with [retryDelay].
   */
  public var retryDelay: Duration = PersistentConnection.Builder.DEFAULT_RETRY_DELAY.toKotlinDuration()
    set(value) {
      require(value.isFinite() && !value.isNegative()) {
        "retryDelay must be finite and not negative: $value"
      }
      field = value
      retryDelayFunction = null
    }

  /** Sets a retry delay that depends on the number of consecutive failures; replaces [retryDelay]. */
  public fun retryDelay(delay: RetryDelay) {
    retryDelayFunction = delay
  }

  /** Whether each retry delay is randomized within [0.7 d, 1.3 d]. Default `true`. */
  public var randomizeRetryDelay: Boolean = true

  /** The scheduler of every timer; `null` (the default) for the library's shared one. */
  public var scheduler: ScheduledExecutorService? = null

  /** Whether to keep a warm standby (see [PersistentConnection.Builder.standby]). Default `false`. */
  public var standby: Boolean = false

  /** A budget shared with other persistent connections; `null` (the default) for none. */
  public var reconnectBudget: ReconnectBudget? = null

  /** The logger of the event log lines; `null` (the default) for the library's own. */
  public var logger: Logger? = null

  /**
   * Where the suspend lambdas run: [Dispatchers.Default] unless set; a test passes its test
   * dispatcher. It must not contain a [Job]: the persistent connection owns the scope of its
   * lambdas and ends it when it closes.
   */
  public var context: CoroutineContext = Dispatchers.Default
    set(value) {
      require(value[Job] == null) {
        "context must not contain a Job: the persistent connection owns its scope, and close() ends it"
      }
      field = value
    }

  /**
   * Sets a connector that is not a suspend function, which [connector] may replace once; made at
   * [build] from the [scheduler] then set, so that its timers run on it too.
   */
  internal fun defaultConnector(make: (ScheduledExecutorService?) -> Connector<A, C>) {
    setConnector(true) { make(scheduler) }
  }

  internal fun build(): PersistentConnection<A, C> {
    check(!built) { "this spec was built already" }
    val makeLookup =
      checkNotNull(lookup) { "persistentConnection(\"$serverName\") { }: lookup { } is not set" }
    val makeConnector =
      checkNotNull(connector) { "persistentConnection(\"$serverName\") { }: connector { } is not set" }
    val scope = CoroutineScope(SupervisorJob() + context + CoroutineName("tether:$serverName"))
    val builder =
      PersistentConnection.builder<A, C>(serverName)
        .addressLookup(makeLookup(scope))
        .connector(makeConnector(scope))
        .retryDelay(retryDelayFunction ?: RetryDelay.constant(retryDelay.toJavaDuration()))
        .randomizeRetryDelay(randomizeRetryDelay)
        .standby(standby)
    initializer?.let { initialize ->
      builder.initializer(
        ConnectionInitializer<C> { connection ->
          scope.futureOf("the initializer") { initialize(connection) }
        }
      )
    }
    listeners.forEach { listener -> builder.onEvent(EventListener { event -> listener(event) }) }
    scheduler?.let { builder.scheduler(it) }
    reconnectBudget?.let { builder.reconnectBudget(it) }
    logger?.let { builder.logger(it) }
    val connection =
      try {
        builder.build()
      } catch (e: RuntimeException) {
        scope.cancel()
        throw e
      }
    // close() ends the scope: what runs in it is cancelled, and nothing new starts.
    connection.subscribeState { state ->
      if (state.status() >= ConnectionState.Status.CLOSING) {
        scope.cancel("the persistent connection is closed")
      }
    }
    built = true
    return connection
  }
}

/**
 * Runs [block] in this scope and returns its outcome as a future whose `cancel()` only cancels the
 * coroutine: the future then completes with whatever the coroutine ends with, so that the
 * persistent connection waits for it, and closes a connection that a connector returned in spite
 * of the cancellation. A cancellation from inside [block] while the coroutine is still active (a
 * `withTimeout` that expired) is a failure that names [what]. Nothing the block throws escapes.
 */
private fun <T : Any> CoroutineScope.futureOf(what: String, block: suspend () -> T): ListenableFuture<T> {
  val outcome = SettableFuture.create<T>()
  val job =
    launch {
      try {
        outcome.set(block())
      } catch (e: CancellationException) {
        if (currentCoroutineContext().isActive) {
          // Not the exception's text in the message: a user's toString() that throws would escape.
          outcome.setException(IllegalStateException("$what was cancelled from inside", e))
        } else {
          outcome.cancel(false)
        }
      } catch (e: Throwable) {
        outcome.setException(e)
      }
    }
  job.invokeOnCompletion { outcome.cancel(false) } // cancelled before it ran: no-op otherwise
  return object : ForwardingListenableFuture.SimpleForwardingListenableFuture<T>(outcome) {
    override fun cancel(mayInterruptIfRunning: Boolean): Boolean {
      job.cancel()
      return false // it completes when the coroutine ends
    }
  }
}
