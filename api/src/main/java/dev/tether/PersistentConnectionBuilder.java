package dev.tether;

import static com.google.common.base.Preconditions.checkArgument;
import static com.google.common.base.Preconditions.checkState;
import static java.util.Objects.requireNonNull;

import com.google.common.collect.ImmutableList;
import dev.tether.internal.DefaultScheduler;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ScheduledExecutorService;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** The builder behind {@link PersistentConnection#builder(String)}. */
final class PersistentConnectionBuilder<A, C extends Closable>
    implements PersistentConnection.Builder<A, C> {
  private static final Logger DEFAULT_LOGGER = LoggerFactory.getLogger(PersistentConnection.class);

  private final String serverName;
  private @Nullable AddressLookup<A> lookup;
  private @Nullable Connector<A, C> connector;
  private @Nullable RetryDelay retryDelay;
  private @Nullable Boolean randomize;
  private final List<EventListener<A, C>> listeners = new ArrayList<>();
  private @Nullable Logger logger;
  private @Nullable ScheduledExecutorService scheduler;
  private @Nullable ConnectionInitializer<? super C> initializer;
  private @Nullable Boolean standby;
  private @Nullable ReconnectBudget budget;

  PersistentConnectionBuilder(String serverName) {
    requireNonNull(serverName, "serverName");
    checkArgument(!serverName.isBlank(), "serverName must not be blank");
    this.serverName = serverName;
  }

  @Override
  public PersistentConnection.Builder<A, C> addressLookup(AddressLookup<A> lookup) {
    this.lookup = setOnce(this.lookup, requireNonNull(lookup, "lookup"), "addressLookup");
    return this;
  }

  @Override
  public PersistentConnection.Builder<A, C> connector(Connector<A, C> connector) {
    this.connector = setOnce(this.connector, requireNonNull(connector, "connector"), "connector");
    return this;
  }

  @Override
  public PersistentConnection.Builder<A, C> retryDelay(RetryDelay delay) {
    this.retryDelay = setOnce(this.retryDelay, requireNonNull(delay, "delay"), "retryDelay");
    return this;
  }

  @Override
  public PersistentConnection.Builder<A, C> retryDelay(Duration delay) {
    return retryDelay(RetryDelay.constant(delay));
  }

  @Override
  public PersistentConnection.Builder<A, C> randomizeRetryDelay(boolean randomize) {
    this.randomize = setOnce(this.randomize, randomize, "randomizeRetryDelay");
    return this;
  }

  @Override
  public PersistentConnection.Builder<A, C> onEvent(EventListener<A, C> listener) {
    requireNonNull(listener, "listener");
    listeners.add(listener);
    return this;
  }

  @Override
  public PersistentConnection.Builder<A, C> logger(Logger logger) {
    this.logger = setOnce(this.logger, requireNonNull(logger, "logger"), "logger");
    return this;
  }

  @Override
  public PersistentConnection.Builder<A, C> scheduler(ScheduledExecutorService scheduler) {
    this.scheduler = setOnce(this.scheduler, requireNonNull(scheduler, "scheduler"), "scheduler");
    return this;
  }

  @Override
  public PersistentConnection.Builder<A, C> initializer(ConnectionInitializer<? super C> initializer) {
    ConnectionInitializer<? super C> given = requireNonNull(initializer, "initializer");
    this.initializer = setOnce(this.initializer, given, "initializer");
    return this;
  }

  @Override
  public PersistentConnection.Builder<A, C> standby(boolean standby) {
    this.standby = setOnce(this.standby, standby, "standby");
    return this;
  }

  @Override
  public PersistentConnection.Builder<A, C> reconnectBudget(ReconnectBudget budget) {
    this.budget = setOnce(this.budget, requireNonNull(budget, "reconnectBudget"), "reconnectBudget");
    return this;
  }

  @Override
  public PersistentConnection<A, C> build() {
    AddressLookup<A> lookup = this.lookup;
    Connector<A, C> connector = this.connector;
    checkState(lookup != null, "addressLookup is required: call addressLookup(...) before build()");
    checkState(connector != null, "connector is required: call connector(...) before build()");
    PersistentConnectionImpl<A, C> connection =
        new PersistentConnectionImpl<>(
            new Settings<>(
                serverName,
                lookup,
                connector,
                retryDelay != null
                    ? retryDelay
                    : RetryDelay.constant(PersistentConnection.Builder.DEFAULT_RETRY_DELAY),
                randomize == null || randomize,
                ImmutableList.copyOf(listeners),
                logger != null ? logger : DEFAULT_LOGGER,
                scheduler != null ? scheduler : DefaultScheduler.get(),
                initializer,
                standby != null && standby,
                budget != null ? budget : ReconnectBudget.unlimited()));
    connection.start();
    return connection;
  }

  /**
   * An option set once: {@code value}, unless the option was set before: then {@link
   * IllegalStateException} naming it.
   */
  private static <T> T setOnce(@Nullable T current, T value, String option) {
    checkState(current == null, "%s was already set", option);
    return value;
  }
}
