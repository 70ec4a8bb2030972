package dev.tether;

import static com.google.common.base.Preconditions.checkState;

import dev.tether.internal.SerializingExecutor;
import java.util.concurrent.Executor;

/**
 * The serializing context of one persistent connection: runs its steps one at a time, in order,
 * on the threads that submit them (a {@link SerializingExecutor}). A step that throws is logged at
 * ERROR (a broken invariant), naming the connection, and the next one runs.
 */
final class SerializingContext implements Executor {
  private final SerializingExecutor steps;

  SerializingContext(EventLog log) {
    this.steps = new SerializingExecutor(t -> log.error("internal task failed", t));
  }

  @Override
  public void execute(Runnable task) {
    steps.execute(task);
  }

  /** Throws {@link IllegalStateException} unless the calling thread is draining this context. */
  void checkInContext() {
    checkState(steps.isRunningTasks(), "not running in the serializing context");
  }
}
