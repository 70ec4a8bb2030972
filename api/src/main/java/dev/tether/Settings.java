package dev.tether;

import java.util.List;
import java.util.concurrent.ScheduledExecutorService;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;

/** What a builder was given, defaults filled in: an immutable copy that {@code build()} makes. */
record Settings<A, C extends Closable>(
    String serverName,
    AddressLookup<A> lookup,
    Connector<A, C> connector,
    RetryDelay retryDelay,
    boolean randomize,
    List<EventListener<A, C>> listeners,
    Logger logger,
    ScheduledExecutorService scheduler,
    @Nullable ConnectionInitializer<? super C> initializer,
    boolean standby,
    ReconnectBudget budget) {}
