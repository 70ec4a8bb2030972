package dev.tether;

import com.google.common.util.concurrent.ListenableFuture;
import java.time.Duration;
import java.util.concurrent.ScheduledExecutorService;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;

/**
 * Keeps a client connected to a service for as long as the client lives.
 *
 * <p>A persistent connection runs a loop of <em>rounds</em>. A round emits {@link
 * Event.AttemptingToConnect} and then makes <em>attempts</em> until one succeeds. Each attempt
 * starts its retry timer ({@link RetryDelay}, randomized within ±30% unless turned off), looks the
 * address up again through the {@link AddressLookup} (so failover to another replica is free),
 * emits {@link Event.ObtainedAddress}, and asks the {@link Connector} for a connection. A failed
 * attempt emits {@link Event.FailedToConnect}; the next one starts when the failed attempt's
 * timer fires. A successful one makes the connection {@linkplain #currentConnection() current},
 * emits {@link Event.Connected}, then completes the {@link #connected()} futures. When that
 * connection's {@link Closable#closeFinished()} completes (the only way a drop is noticed), the
 * persistent connection emits {@link Event.Disconnected} and starts a new round when the timer of
 * the successful attempt fires: at once if the connection lived longer than the delay, after the
 * rest of the delay if it died young.
 *
 * <h2>Threads</h2>
 *
 * <p>A persistent connection starts no threads of its own. Each step of its loop runs on the
 * thread that triggers it: the caller of {@link #close()} or {@link #subscribe}, the thread that
 * completes a lookup, connect or {@code closeFinished()} future, or the scheduler's thread when a
 * timer fires (the first round, too). The steps of one persistent connection run one at a time: a
 * step triggered while another runs is queued and run right after it by the thread already
 * running. Lookups, connectors, listeners and the retry delay therefore run on those threads,
 * never under a library lock, and must not block. With a virtual-time scheduler such as {@link
 * dev.tether.testing.VirtualTimeScheduler}, everything runs on the thread that advances time.
 *
 * <h2>Failures in user code</h2>
 *
 * <p>Nothing a lookup, connector, listener, logger or retry delay does stops the loop: a failed
 * lookup or connect becomes {@link Event.FailedToConnect}, a listener that throws is logged and
 * skipped, and a retry delay that throws or returns {@code null} or a negative duration is logged
 * and replaced by {@link Builder#DEFAULT_RETRY_DELAY} for that attempt. If the scheduler rejects a
 * task (it was shut down), or fails to schedule it otherwise (it throws, or returns no future),
 * the persistent connection logs an error and closes itself.
 *
 * <h2>Ownership</h2>
 *
 * <p>The persistent connection owns every connection its connector yields. It closes the current
 * one when it is closed itself, and closes a connection that arrives after {@link #close()}
 * without handing it out. It never closes a connection because the other side went away: a
 * connection that should be replaced when its peer disappears closes itself then.
 *
 * @param <A> the address type
 * @param <C> the connection type
 */
public interface PersistentConnection<A, C extends Closable> extends Closable {

  /**
   * Returns a builder for a persistent connection to the service called {@code serverName}.
   *
   * @param serverName the name of the service, used in log lines and error messages
   * @throws NullPointerException if {@code serverName} is null
   * @throws IllegalArgumentException if {@code serverName} is blank
   */
  static <A, C extends Closable> Builder<A, C> builder(String serverName) {
    return new PersistentConnectionBuilder<>(serverName);
  }

  /** Returns the name of the service this persistent connection connects to. */
  String serverName();

  /**
   * Returns a future of a connection: the current one if there is one that is not closed,
   * otherwise the next one.
   *
   * <p>On a connected persistent connection this returns an already completed future and
   * allocates nothing. After {@link #close()} the future never completes, as in the seed
   * contract: use {@link #connectedOrFailedToConnect()} to wait with a way out. Cancelling a
   * returned future never disturbs the connection or other callers. A waiting future's {@code
   * toString()} (and so the {@code TimeoutException} of a bounded {@code get}) says what it waits
   * for: the server, the state, the last failure.
   *
   * <p><b>Threads.</b> The future completes in the step of the loop that publishes the
   * connection, on the thread that runs it (the one that completed the connect, or initializer,
   * future), right after {@link Event.Connected} was delivered: whoever gets the connection from
   * it and closes at once sees {@code Connected}, then the close's {@code Disconnected}.
   * Listeners added with {@code directExecutor()} run there; they must not block. An already
   * completed future runs a listener at once on the thread that adds it.
   */
  ListenableFuture<C> connected();

  /**
   * Returns a future of the current connection if it is not closed, otherwise of the outcome of
   * the next attempt.
   *
   * <p>The future fails with that attempt's {@link ConnectAttemptException} if it fails, even when
   * its {@link Event.FailedToConnect} was not emitted because it repeated the previous one. Once
   * the persistent connection is closed, the future fails with an {@link IllegalStateException}
   * that says so: futures already handed out fail at {@link #close()}, later ones at once.
   * Cancelling a returned future disturbs no one else.
   *
   * <p><b>Threads.</b> The future completes in the step of the loop that ends the attempt (on the
   * thread that completed its lookup, connect or initializer future) or that closes the
   * persistent connection (the caller of {@code close()}, unless another thread runs a step): a
   * failure before its {@code FailedToConnect}, a connection after its {@code Connected}.
   * Listeners added with {@code directExecutor()} run there and must not block.
   */
  ListenableFuture<C> connectedOrFailedToConnect();

  /**
   * Returns the current connection, or {@code null} while connecting or after close.
   *
   * <p>A connection becomes current before its {@link Event.Connected} is delivered and stays
   * current until its {@link Closable#closeFinished()} completes, just before {@link
   * Event.Disconnected} is delivered; it may already be {@linkplain Closable#isClosed() closed}
   * in between.
   */
  @Nullable C currentConnection();

  /**
   * Adds a listener of this persistent connection's events.
   *
   * <p>The listener first receives the last event emitted before it was added, if any, and then
   * every later event, on the threads described in the class documentation. After close it
   * receives the last event and nothing more. Closing the returned subscription removes it.
   *
   * @throws NullPointerException if {@code listener} is null
   */
  Subscription subscribe(EventListener<A, C> listener);

  /**
   * Closes the persistent connection: {@link #isClosed()} is true at once; a lookup or connect in
   * flight is cancelled; the current connection is closed and {@link Event.Disconnected} is
   * emitted for it; no other attempt is started. After this call the only event is that {@code
   * Disconnected}.
   *
   * <p>A new connection is announced ({@code Connected}) before the futures of {@link
   * #connected()} and {@link #connectedOrFailedToConnect()} complete with it, so a close by their
   * callbacks, or by a thread they woke, comes after its {@code Connected} and emits its {@code
   * Disconnected}. A close from a listener of that {@code Connected} leaves the waiters as at
   * close: a {@code connected()} future never completes, a {@code connectedOrFailedToConnect()}
   * future fails. A close that comes after the connection became current but before its {@code
   * Connected} (from another thread, in that instant) closes it as a late connection: no {@code
   * Connected}, and so no {@code Disconnected}, and no waiter gets it.
   *
   * <p>Returns {@link #closeFinished()}, the same future every time. It completes when nothing is
   * in flight, every connection the connector yielded is closed (a connection whose close fails is
   * logged and counted as closed) and {@code Disconnected} has been delivered. It ignores {@code
   * cancel()}.
   *
   * <p><b>Threads.</b> The closing steps run on the calling thread, unless another thread runs a
   * step then (that one runs them); the returned future completes in the last of them, on the
   * thread that completed the last connection's {@code closeFinished()} or the cancelled attempt's
   * future, or on the calling thread if nothing was left to wait for. Listeners added with {@code
   * directExecutor()} run there and see {@link #state()} as {@code CLOSED}.
   */
  @Override
  ListenableFuture<Void> close();

  /**
   * Returns a consistent snapshot of this persistent connection: its status, the current
   * connection and address, the last failure and the failure count, the time until the next
   * attempt, and counters. See {@link ConnectionState} for each field. From {@link #close()} on,
   * the status is {@code CLOSING} until closing finishes, then {@code CLOSED} (already inside
   * callbacks of {@link #closeFinished()}). Any thread: it reads the state that the loop last
   * published, and the time left on the retry timer.
   */
  ConnectionState<A, C> state();

  /**
   * Subscribes {@code listener} to this persistent connection's states: it gets the current state
   * at once (in a step: on the calling thread unless another thread runs a step), then every state
   * the loop passes through whose status, address, connection, last failure, consecutive failures
   * or standby address differs from the last one it got, one at a time, in order, on the threads
   * of the loop (see "Threads"). A state that goes with an event is delivered just before that
   * event. After {@code CLOSED} it gets nothing more. Closing the returned subscription stops the
   * deliveries. A listener that throws is logged and skipped.
   *
   * @throws NullPointerException if {@code listener} is null
   */
  Subscription subscribeState(StateListener<A, C> listener);

  /**
   * Stops waiting: if the status is {@code WAITING_TO_RETRY} (after a failure, after a young
   * connection died, or before the first round), cancels the timer and starts the next attempt,
   * round or first round in a step, at once on the calling thread unless another thread runs a
   * step of this persistent connection. The failure count is kept, so an exponential delay goes on
   * growing. It takes no token from a {@link ReconnectBudget}: a wait for one ends too. If the
   * awaited attempt starts on its own before that step runs (its timer fired meanwhile), the step
   * leaves the loop alone, so one call never starts two attempts. Returns whether the status was
   * {@code WAITING_TO_RETRY}; in any other status it does nothing. For operators, and for "the
   * service is back, stop waiting".
   */
  boolean retryNow();

  /**
   * Make before break, for planned moves: while {@code CONNECTED}, runs a background attempt
   * (lookup, connect, initialize) while the current connection keeps serving, and emits no event
   * for it. If the lookup yields the current connection's address, nothing changes and the future
   * completes with the current connection; if it yields a live standby's address, the standby
   * becomes current at once. Otherwise, once the new connection is initialized, in one step it
   * becomes current and the events {@code Disconnected}, {@code AttemptingToConnect}, {@code
   * ObtainedAddress}, {@code Connected} are emitted in that order ({@link #currentConnection()}
   * is already the new one while they are delivered; state listeners get one {@code CONNECTED}
   * state with it before them); then, in the same step, the old connection is closed (for gRPC,
   * gracefully: it takes no new calls at once and calls in flight finish on the old channel,
   * which is shut down only a second later, so that a call that picked the old connection just
   * before the switch still starts there rather than fail), and the future completes with the
   * new connection. {@code close()} closes the old connection at once.
   *
   * <p>If the background attempt fails, nothing changes: the failure is logged at WARN and the
   * future fails with its {@link ConnectAttemptException}. If the current connection drops
   * meanwhile, the handover is abandoned (its future fails with {@link IllegalStateException})
   * and the normal round runs; a connection the abandoned handover made is closed. A call while a
   * handover is asked for or in flight returns the same future, which ignores {@code cancel()}:
   * its callbacks are shared, and one that throws an {@code Error} keeps Guava from running the
   * ones added after it (an {@code Exception} is logged and the others run).
   * When not {@code CONNECTED}, the future is that of {@link #connectedOrFailedToConnect()}, and
   * the loop stops waiting as {@link #retryNow()} does. After {@link #close()} the future fails at
   * once. The attempt takes a token of the {@linkplain Builder#reconnectBudget budget}.
   */
  ListenableFuture<C> handOver();

  /**
   * Builds a {@link PersistentConnection}. Each option may be set once, except {@link #onEvent},
   * which adds a listener each time; a second call of a set-once option throws {@link
   * IllegalStateException}. Arguments are checked at once. {@link #build()} copies the options,
   * so a builder may build several independent persistent connections.
   *
   * @param <A> the address type
   * @param <C> the connection type
   */
  interface Builder<A, C extends Closable> {

    /** The retry delay used when none is set, and in place of a broken {@link RetryDelay}. */
    Duration DEFAULT_RETRY_DELAY = Duration.ofSeconds(10);

    /** Sets where each attempt gets the address from. Required. */
    Builder<A, C> addressLookup(AddressLookup<A> lookup);

    /** Sets how an address becomes a connection. Required. */
    Builder<A, C> connector(Connector<A, C> connector);

    /**
     * Sets the retry delay, asked once per attempt. Default: {@code
     * RetryDelay.constant(DEFAULT_RETRY_DELAY)}, 10 seconds.
     */
    Builder<A, C> retryDelay(RetryDelay delay);

    /**
     * Sets a constant retry delay: the same as {@code retryDelay(RetryDelay.constant(delay))}.
     * Zero is allowed, and makes an attempt that fails at once retry at once, through the
     * scheduler.
     *
     * @throws IllegalArgumentException if {@code delay} is negative
     */
    Builder<A, C> retryDelay(Duration delay);

    /**
     * Sets whether each retry delay is randomized uniformly within [0.7 d, 1.3 d], so that many
     * clients of one service spread their reconnects out. Default: {@code true}.
     */
    Builder<A, C> randomizeRetryDelay(boolean randomize);

    /**
     * Adds a listener that receives every event from the first on. May be called several times;
     * listeners receive each event in the order they were added.
     */
    Builder<A, C> onEvent(EventListener<A, C> listener);

    /**
     * Sets the logger of the event log lines and of failures in user code. Default: the library's
     * own logger, {@code dev.tether.PersistentConnection}. Each event is logged as one line with
     * the key-value {@code persistent-connection-to=<server name>} and the server name in the
     * text: {@code FailedToConnect} at WARN, the others at INFO.
     */
    Builder<A, C> logger(Logger logger);

    /**
     * Sets the scheduler that runs every timer, the first round included. Default: a scheduler
     * shared by all persistent connections, with one daemon thread that ends when it has had
     * nothing to do for two seconds. The persistent connection
     * never shuts the scheduler down; if the scheduler rejects a task, or throws or returns null
     * when asked to schedule one, the persistent connection logs an error and closes itself. Shut
     * a scheduler of your own down only once the persistent connections that use it have finished
     * closing: a timer that {@code shutdownNow()} drops, or that a shut-down scheduler never runs,
     * is never noticed, and the persistent connection would wait for it for good.
     */
    Builder<A, C> scheduler(ScheduledExecutorService scheduler);

    /**
     * Sets an initializer that prepares each new connection before it is published (see {@link
     * ConnectionInitializer}): only when its future succeeds does the connection become current,
     * emit {@code Connected} and complete the waiters; until then the status stays {@code
     * CONNECTING}. This fixes a flaw of the original, where {@code connected()} could complete
     * before the handlers of {@code Connected} had prepared the connection. Set once.
     *
     * @throws NullPointerException if {@code initializer} is null
     * @throws IllegalStateException if an initializer was set already
     */
    Builder<A, C> initializer(ConnectionInitializer<? super C> initializer);

    /**
     * With {@code true}, keeps a warm standby: while connected, one more connection, to another
     * address, prepared (connected and initialized) in the background, so that when the current
     * connection drops the next round uses it at once, with no lookup, connect or wait. Default
     * {@code false}. The standby's attempts run in the background and emit no event; {@link
     * ConnectionState#standbyAddress()} says where a live standby is; {@code close()} closes it.
     * A standby attempt that fails is logged at WARN and the next one starts when its retry timer
     * fires.
     *
     * @throws IllegalStateException if it was set already
     */
    Builder<A, C> standby(boolean standby);

    /**
     * Shares {@code budget} with the other persistent connections built with it: each attempt
     * takes a token and starts when it is due. Default {@link ReconnectBudget#unlimited()}.
     *
     * @throws NullPointerException if {@code budget} is null
     * @throws IllegalStateException if it was set already
     */
    Builder<A, C> reconnectBudget(ReconnectBudget budget);

    /**
     * Builds the persistent connection and starts connecting: the first round is handed to the
     * scheduler, so this runs no user code.
     *
     * @throws IllegalStateException if the address lookup or the connector is not set
     */
    PersistentConnection<A, C> build();
  }
}
