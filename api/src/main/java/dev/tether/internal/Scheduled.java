package dev.tether.internal;

import java.util.concurrent.ScheduledExecutorService;

/**
 * Implemented by Tether's persistent connections, so that the modules built on them (the gRPC
 * channel that follows one) time their work on the same scheduler, virtual time included. Not
 * part of the public API.
 */
public interface Scheduled {
  /** Returns the scheduler that runs this persistent connection's timers. */
  ScheduledExecutorService scheduler();
}
