package dev.tether.micrometer;

import static java.util.Objects.requireNonNull;

import dev.tether.Closable;
import dev.tether.ConnectAttemptException;
import dev.tether.ConnectionState;
import dev.tether.PersistentConnection;
import dev.tether.StateListener;
import dev.tether.Subscription;
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
 *   <tr><td>{@value #ATTEMPTS}</td><td>counter</td><td>attempts that ended, tagged {@code
 *       outcome} ({@code success} or {@code failure}) and {@code stage} ({@code none} for a
 *       success; {@code lookup}, {@code connect} or {@code initialize} for a failure). Exact: a
 *       failure that repeats the previous one counts, though no event reports it.</td></tr>
 *   <tr><td>{@value #CONNECT}</td><td>timer</td><td>from the start of an attempt (its lookup) to
 *       its outcome, tagged {@code outcome}, timed on the registry's clock. Attempts of the loop only: a
 *       standby's or a handover's background attempt is counted but not timed, and a live
 *       standby's takeover, which counts as a success, has no attempt to time.</td></tr>
 *   <tr><td>{@value #UP}</td><td>gauge</td><td>1 while the status is {@code CONNECTED}, else
 *       0.</td></tr>
 *   <tr><td>{@value #DISCONNECTS}</td><td>counter</td><td>connections that stopped being
 *       current: drops, handovers, and the close.</td></tr>
 *   <tr><td>{@value #CONSECUTIVE_FAILURES}</td><td>gauge</td><td>{@link
 *       ConnectionState#consecutiveFailures()}.</td></tr>
 * </table>
 *
 * <p>The gauges read {@link PersistentConnection#state()} when the registry asks, so a late bind
 * shows current values; the counters and the timer count from the bind. They follow the
 * connection's {@linkplain PersistentConnection#subscribeState state listener}, which sees every
 * attempt's end even when events are de-duplicated. An attempt that ends without a state of its own
 * (a background attempt of a handover or a standby that fails) is not counted: it changed nothing
 * a dashboard shows. An attempt already in flight at the bind counts when it ends, untimed.
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
    return NamedSubscription.of(
        "meters of " + name + " in " + registry.getClass().getSimpleName(),
        () -> {
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

  /** Follows the states of one persistent connection; called one state at a time, in order. */
  private static final class Recorder<A, C> implements StateListener<A, C> {
    private final Clock clock;
    private final Counter successes;
    private final Map<ConnectAttemptException.Stage, Counter> failures =
        new EnumMap<>(ConnectAttemptException.Stage.class);
    private final Timer succeeded;
    private final Timer failed;
    private final Counter disconnects;
    private final Reading reading;
    private @Nullable ConnectionState<A, C> last;
    /** When the attempt in flight started, on the registry's clock; -1 if unknown or none. */
    private long startedAt = -1;

    Recorder(MeterRegistry registry, Tags tags, List<Meter> meters, Reading reading) {
      this.reading = reading;
      this.clock = registry.config().clock();
      this.successes = attempts(registry, tags, "success", "none", meters);
      for (ConnectAttemptException.Stage stage : ConnectAttemptException.Stage.values()) {
        failures.put(
            stage, attempts(registry, tags, "failure", stage.name().toLowerCase(Locale.ROOT), meters));
      }
      this.succeeded = connectTimer(registry, tags, "success", meters);
      this.failed = connectTimer(registry, tags, "failure", meters);
      this.disconnects =
          Counter.builder(DISCONNECTS)
              .tags(tags)
              .description("connections that stopped being current: drops, handovers, the close")
              .register(registry);
      meters.add(disconnects);
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
    public void onState(ConnectionState<A, C> state) {
      ConnectionState<A, C> previous = last;
      last = state;
      if (state.status() == ConnectionState.Status.CLOSED) {
        reading.closed(state.consecutiveFailures());
      }
      if (previous == null) {
        return; // the state at the bind: counting starts here
      }
      long now = clock.monotonicTime();
      boolean connecting = state.status() == ConnectionState.Status.CONNECTING;
      if (connecting && previous.status() != ConnectionState.Status.CONNECTING) {
        // A round or a retry starts: its lookup comes next, in this step. Not a live standby's
        // takeover, which has no lookup, connect or wait to time (DESIGN 7.6).
        startedAt =
            previous.status() == ConnectionState.Status.CONNECTED && previous.standbyAddress() != null
                ? -1
                : now;
      }
      long connected = state.connections() - previous.connections();
      // A success resets the count; failures after it are the new count.
      int failedNow =
          connected > 0
              ? state.consecutiveFailures()
              : Math.max(0, state.consecutiveFailures() - previous.consecutiveFailures());
      for (long i = 0; i < connected; i++) {
        successes.increment();
        time(succeeded, now);
      }
      ConnectAttemptException failure = state.lastFailure();
      if (failedNow > 0 && failure != null) {
        requireNonNull(failures.get(failure.stage())).increment(failedNow);
        time(failed, now);
        if (connecting) {
          // Still CONNECTING: the failed attempt outlasted its retry timer, so the next one
          // started in the same step, with no state of its own.
          startedAt = now;
        }
      }
      if (!connecting) {
        startedAt = -1; // background attempts (standby, handover) are not timed
      }
      C current = previous.connection();
      if (current != null
          && state.connection() != current
          && (previous.status() == ConnectionState.Status.CONNECTED
              || previous.status() == ConnectionState.Status.CLOSING)) {
        disconnects.increment();
      }
    }

    private void time(Timer timer, long now) {
      if (startedAt >= 0) {
        timer.record(now - startedAt, TimeUnit.NANOSECONDS);
        startedAt = -1;
      }
    }

    @Override
    public String toString() {
      return "TetherMetrics";
    }
  }
}
