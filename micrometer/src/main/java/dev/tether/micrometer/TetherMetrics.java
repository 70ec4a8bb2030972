package dev.tether.micrometer;

import static java.util.Objects.requireNonNull;

import dev.tether.Closable;
import dev.tether.ConnectAttemptException;
import dev.tether.ConnectionState;
import dev.tether.PersistentConnection;
import dev.tether.StateListener;
import dev.tether.Subscription;
import dev.tether.internal.AttemptObserver;
import dev.tether.internal.NamedSubscription;
import io.micrometer.core.instrument.Clock;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.Timer;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Publishes a persistent connection's health to a Micrometer {@link MeterRegistry}, for
 * dashboards and alerts.
 *
 * <pre>{@code
 * Subscription metrics = TetherMetrics.bind(orders, registry);
 * ...
 * metrics.close(); // removes the meters
 * }</pre>
 *
 * <p>Every meter is tagged {@code connection=<server name>}:
 *
 * <table>
 *   <caption>Meters</caption>
 *   <tr><th>name</th><th>type</th><th>what</th></tr>
 *   <tr><td>{@value #ATTEMPTS}</td><td>counter</td><td>attempts that ended, of every kind (a
 *       round's, a standby's, a handover's), tagged {@code outcome} ({@code success} or {@code
 *       failure}) and {@code stage} ({@code none} for a success; {@code lookup}, {@code connect}
 *       or {@code initialize} for a failure). Exact: a failure that repeats the previous one
 *       counts, though no event reports it, and so does a background attempt's, though it changes
 *       no state. An attempt ends in success when its connection is connected and initialized
 *       (a standby's when it is live; its later takeover is no attempt), also if that connection
 *       is then not used (the current connection moved to the standby's address meanwhile). One
 *       that stops with neither a connection nor an error is not counted: cancelled by {@code
 *       close()}, or ending after it was called; cancelled with an abandoned handover; stopped
 *       after its lookup found the current connection's address, or a handover's that found the
 *       live standby's and switched to it (the standby's own attempt was counted).</td></tr>
 *   <tr><td>{@value #CONNECT}</td><td>timer</td><td>from the start of each counted attempt (its
 *       lookup) to its outcome, tagged {@code outcome}, timed on the registry's clock; an attempt
 *       already in flight at the bind is counted, not timed.</td></tr>
 *   <tr><td>{@value #UP}</td><td>gauge</td><td>1 while the status is {@code CONNECTED}, else
 *       0.</td></tr>
 *   <tr><td>{@value #DISCONNECTS}</td><td>counter</td><td>connections that stopped being
 *       current: drops, handovers, and the close.</td></tr>
 *   <tr><td>{@value #CONSECUTIVE_FAILURES}</td><td>gauge</td><td>{@link
 *       ConnectionState#consecutiveFailures()}.</td></tr>
 * </table>
 *
 * <p>The gauges read {@link PersistentConnection#state()} when the registry asks, so a late bind
 * shows current values; the counters and the timer count from the bind: the attempts that end
 * after it (one in flight at the bind is counted, untimed), the disconnects that follow it. An
 * attempt is counted in the step where it ends, before the state and the event that report it
 * are delivered, so a listener that sees a {@code FailedToConnect} reads a counter that has
 * counted it. The disconnects follow the connection's {@linkplain
 * PersistentConnection#subscribeState state listener}. Attempts are counted for persistent
 * connections built by {@link PersistentConnection#builder}; one implemented otherwise (a
 * decorator of one's own) gets the gauges and the disconnects only, and the bind logs a warning
 * saying so.
 *
 * <p>The meters stay after the persistent connection closes, showing its last values, until the
 * subscription is closed. The gauges hold the persistent connection only until it is {@code
 * CLOSED}: then they keep its last values and let it go, so that a registry never keeps a closed
 * persistent connection (its settings, its last failure, its channels) reachable, even when the
 * subscription is never closed.
 */
public final class TetherMetrics {
  /** Attempts that ended, by outcome and stage. */
  public static final String ATTEMPTS = "tether.connection.attempts";
  /** Time from an attempt's start to its outcome. */
  public static final String CONNECT = "tether.connection.connect";
  /** 1 while connected. */
  public static final String UP = "tether.connection.up";
  /** Connections that stopped being current. */
  public static final String DISCONNECTS = "tether.connection.disconnects";
  /** The failures since the last success. */
  public static final String CONSECUTIVE_FAILURES = "tether.connection.consecutive.failures";

  private static final Object BINDING = new Object();
  private static final Logger logger = LoggerFactory.getLogger(TetherMetrics.class);

  private TetherMetrics() {}

  /**
   * Registers the meters of {@code connection} in {@code registry} and keeps them current until
   * the returned subscription is closed, which removes them from the registry.
   *
   * @throws NullPointerException if an argument is null
   * @throws IllegalStateException if a persistent connection of the same server name is bound to
   *     this registry already (its meters would be indistinguishable)
   */
  public static Subscription bind(PersistentConnection<?, ?> connection, MeterRegistry registry) {
    requireNonNull(connection, "connection");
    requireNonNull(registry, "registry");
    return bindTyped(connection, registry);
  }

  private static <A, C extends Closable> Subscription bindTyped(
      PersistentConnection<A, C> connection, MeterRegistry registry) {
    String name = connection.serverName();
    Tags tags = Tags.of("connection", name);
    Recorder<A, C> recorder;
    List<Meter> meters = new ArrayList<>();
    Reading reading = new Reading(connection);
    synchronized (BINDING) {
      if (registry.find(UP).tags(tags).gauge() != null) {
        throw new IllegalStateException(
            "a persistent connection to \"" + name + "\" is bound to this registry already");
      }
      try {
        meters.add(
            Gauge.builder(UP, reading, Reading::up)
                .tags(tags)
                .description("1 while the persistent connection is connected")
                .strongReference(true)
                .register(registry));
        meters.add(
            Gauge.builder(CONSECUTIVE_FAILURES, reading, Reading::consecutiveFailures)
                .tags(tags)
                .description("attempts failed since the last success")
                .strongReference(true)
                .register(registry));
        recorder = new Recorder<>(registry, tags, meters, reading);
      } catch (RuntimeException e) { // a registry that rejects one: none stays
        remove(registry, meters);
        throw e;
      }
    }
    Subscription states;
    try {
      states = connection.subscribeState(recorder);
    } catch (RuntimeException e) {
      remove(registry, meters);
      throw e;
    }
    Subscription attempts;
    try {
      if (connection instanceof AttemptObserver.Source source) {
        attempts = source.observeAttempts(recorder.attempts);
      } else {
        logger.warn(
            "{} of {} was not built by PersistentConnection.builder(): its attempts are not"
                + " counted ({} and {} stay at zero)",
            connection.getClass().getName(),
            name,
            ATTEMPTS,
            CONNECT);
        attempts = NamedSubscription.of("no attempts", () -> {});
      }
    } catch (RuntimeException e) {
      states.close();
      remove(registry, meters);
      throw e;
    }
    return NamedSubscription.of(
        "meters of " + name + " in " + registry.getClass().getSimpleName(),
        () -> {
          attempts.close();
          states.close();
          remove(registry, meters);
        });
  }

  /** Removes {@code meters}, under the lock of binds, so that a bind sees all of them or none. */
  private static void remove(MeterRegistry registry, List<Meter> meters) {
    synchronized (BINDING) {
      meters.forEach(registry::remove);
    }
  }

  /**
   * What the gauges read: the persistent connection's state while it is not {@code CLOSED}; then
   * its last values, the connection itself let go.
   */
  private static final class Reading {
    private volatile @Nullable PersistentConnection<?, ?> connection;
    private volatile int lastFailures;

    Reading(PersistentConnection<?, ?> connection) {
      this.connection = connection;
    }

    double up() {
      PersistentConnection<?, ?> open = connection;
      return open != null && open.state().status() == ConnectionState.Status.CONNECTED ? 1 : 0;
    }

    double consecutiveFailures() {
      PersistentConnection<?, ?> open = connection;
      return open != null ? open.state().consecutiveFailures() : lastFailures;
    }

    /** The connection is {@code CLOSED}, with {@code failures} its last count: let it go. */
    void closed(int failures) {
      lastFailures = failures;
      connection = null;
    }
  }

  /**
   * Counts and times the attempts of one persistent connection, told by it in its serializing
   * context; counts its disconnects from its states, one state at a time, in order.
   */
  private static final class Recorder<A, C> implements StateListener<A, C> {
    private final Reading reading;
    private final Counter disconnects;
    private @Nullable ConnectionState<A, C> last;
    final AttemptObserver attempts;

    Recorder(MeterRegistry registry, Tags tags, List<Meter> meters, Reading reading) {
      this.reading = reading;
      this.attempts = new Attempts(registry, tags, meters);
      this.disconnects =
          Counter.builder(DISCONNECTS)
              .tags(tags)
              .description("connections that stopped being current: drops, handovers, the close")
              .register(registry);
      meters.add(disconnects);
    }

    @Override
    public void onState(ConnectionState<A, C> state) {
      ConnectionState<A, C> previous = last;
      last = state;
      if (state.status() == ConnectionState.Status.CLOSED) {
        reading.closed(state.consecutiveFailures());
      }
      if (previous == null) {
        return; // the state at the bind: counting starts here
      }
      C current = previous.connection();
      if (current != null
          && state.connection() != current
          && (previous.status() == ConnectionState.Status.CONNECTED
              || previous.status() == ConnectionState.Status.CLOSING)) {
        disconnects.increment();
      }
    }

    @Override
    public String toString() {
      return "TetherMetrics";
    }
  }

  /** The attempt counters and timers: each attempt timed from its start, on the registry's clock. */
  private static final class Attempts implements AttemptObserver {
    private final Clock clock;
    private final Counter successes;
    private final Map<ConnectAttemptException.Stage, Counter> failures =
        new EnumMap<>(ConnectAttemptException.Stage.class);
    private final Timer successTime;
    private final Timer failureTime;

    Attempts(MeterRegistry registry, Tags tags, List<Meter> meters) {
      this.clock = registry.config().clock();
      this.successes = attempts(registry, tags, "success", "none", meters);
      for (ConnectAttemptException.Stage stage : ConnectAttemptException.Stage.values()) {
        failures.put(
            stage, attempts(registry, tags, "failure", stage.name().toLowerCase(Locale.ROOT), meters));
      }
      this.successTime = connectTimer(registry, tags, "success", meters);
      this.failureTime = connectTimer(registry, tags, "failure", meters);
    }

    private static Counter attempts(
        MeterRegistry registry, Tags tags, String outcome, String stage, List<Meter> meters) {
      Counter counter =
          Counter.builder(ATTEMPTS)
              .tags(tags.and("outcome", outcome, "stage", stage))
              .description("connection attempts that ended, by outcome and failed stage")
              .register(registry);
      meters.add(counter);
      return counter;
    }

    private static Timer connectTimer(
        MeterRegistry registry, Tags tags, String outcome, List<Meter> meters) {
      Timer timer =
          Timer.builder(CONNECT)
              .tags(tags.and("outcome", outcome))
              .description("from an attempt's lookup to its outcome")
              .register(registry);
      meters.add(timer);
      return timer;
    }

    @Override
    public Outcome started() {
      return new Counted(clock.monotonicTime());
    }

    @Override
    public Outcome joinedLate() {
      return new Counted(-1);
    }

    /** One attempt's outcome: counted, and timed from {@code startedAt} unless it is -1. */
    private final class Counted implements Outcome {
      private final long startedAt;

      Counted(long startedAt) {
        this.startedAt = startedAt;
      }

      @Override
      public void succeeded() {
        successes.increment();
        time(successTime);
      }

      @Override
      public void failed(ConnectAttemptException error) {
        requireNonNull(failures.get(error.stage())).increment();
        time(failureTime);
      }

      private void time(Timer timer) {
        if (startedAt != -1) {
          timer.record(clock.monotonicTime() - startedAt, TimeUnit.NANOSECONDS);
        }
      }

      @Override
      public String toString() {
        return "TetherMetrics attempt";
      }
    }

    @Override
    public String toString() {
      return "TetherMetrics";
    }
  }
}
