package dev.tether.testing.faults;

import static java.util.Objects.requireNonNull;

import com.google.common.collect.ImmutableList;
import com.google.common.util.concurrent.Futures;
import com.google.common.util.concurrent.ListenableFuture;
import com.google.common.util.concurrent.MoreExecutors;
import dev.tether.Connector;
import dev.tether.testing.IdleConnection;
import java.net.ConnectException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.function.Supplier;

/**
 * A {@link Connector} whose connections are {@link IdleConnection}s, answering as scripted, one
 * step per connect, for unit tests on virtual time:
 *
 * <pre>{@code
 * ScriptedConnector<String> connector = ScriptedConnector.<String>on(scheduler)
 *     .refuse()                                  // the first connect: connection refused
 *     .dropAfter(Duration.ofSeconds(30))         // the second: connects, drops 30 s later
 *     .succeed()                                 // the third
 *     .hang();                                   // the fourth, and every one after: never answers
 * }</pre>
 *
 * <p>A persistent connection's attempt waits for a hanging connect until {@code close()} cancels
 * it (its next attempt starts only after this one ends), so steps after a {@link #hang()} serve
 * only other connects: a handover's, a standby's, another persistent connection's.
 *
 * <p>Past the end of the script, the last step repeats; a step added then comes next. Delays run on the given scheduler. It
 * records the address of every connect, the future each got, and every connection it made.
 * Thread-safe.
 *
 * @param <A> the address type
 */
public final class ScriptedConnector<A> implements Connector<A, IdleConnection> {
  private final Script<IdleConnection> script;
  private final List<A> addresses = new ArrayList<>(); // guarded by this
  private final List<IdleConnection> made = new ArrayList<>(); // guarded by this

  private ScriptedConnector(ScheduledExecutorService scheduler) {
    this.script = new Script<>(
            "the connector",
            scheduler,
            connection -> {
              ListenableFuture<Void> unused = connection.close();
            });
  }

  /**
   * Returns a connector with an empty script whose delays run on {@code scheduler}.
   *
   * @throws NullPointerException if {@code scheduler} is null
   */
  public static <A> ScriptedConnector<A> on(ScheduledExecutorService scheduler) {
    return new ScriptedConnector<>(scheduler);
  }

  /** Next: fails at once with a {@link ConnectException}, as a port nobody listens on would. */
  public ScriptedConnector<A> refuse() {
    script.add(() -> Futures.immediateFailedFuture(new ConnectException("Connection refused (scripted)")));
    return this;
  }

  /** Next: fails at once with {@code error}. */
  public ScriptedConnector<A> fail(Throwable error) {
    script.add(Script.failing(error));
    return this;
  }

  /**
   * Next: never answers, until the caller cancels the future (a persistent connection does at
   * {@code close()}).
   */
  public ScriptedConnector<A> hang() {
    script.add(Script::hanging);
    return this;
  }

  /** Next: connects at once. */
  public ScriptedConnector<A> succeed() {
    script.add(() -> Futures.immediateFuture(make()));
    return this;
  }

  /** Next: connects after {@code delay}. */
  public ScriptedConnector<A> succeedAfter(Duration delay) {
    Script.checkedDelay(delay);
    script.add(() -> script.after(delay, () -> Futures.immediateFuture(make())));
    return this;
  }

  /** Next: connects at once, and the connection drops {@code delay} later (the peer goes away). */
  public ScriptedConnector<A> dropAfter(Duration delay) {
    Script.checkedDelay(delay);
    Supplier<ListenableFuture<IdleConnection>> step =
        () -> {
          IdleConnection connection = new IdleConnection();
          ScheduledFuture<?> drop = script.schedule(delay, connection::drop); // may be refused
          connection.closeFinished().addListener(() -> drop.cancel(false), MoreExecutors.directExecutor());
          return Futures.immediateFuture(recorded(connection));
        };
    script.add(step);
    return this;
  }

  private IdleConnection make() {
    return recorded(new IdleConnection());
  }

  private IdleConnection recorded(IdleConnection connection) {
    synchronized (this) {
      made.add(connection);
    }
    return connection;
  }

  /**
   * Connects with the next step of the script.
   *
   * @throws IllegalStateException if the script has no step
   */
  @Override
  public synchronized ListenableFuture<IdleConnection> connect(A address) {
    requireNonNull(address, "address");
    ListenableFuture<IdleConnection> answer = script.next(); // in one turn: addresses and answers agree
    addresses.add(address);
    return answer;
  }

  /** The address of every connect, in order. */
  public synchronized ImmutableList<A> addresses() {
    return ImmutableList.copyOf(addresses);
  }

  /** The future each connect got, in order. */
  public ImmutableList<ListenableFuture<IdleConnection>> answers() {
    return script.answers();
  }

  /** Every connection made, in order (a delayed one when it is made). */
  public synchronized ImmutableList<IdleConnection> connections() {
    return ImmutableList.copyOf(made);
  }

  @Override
  public synchronized String toString() {
    return "ScriptedConnector[" + addresses.size() + " connects, " + made.size() + " connections]";
  }
}
