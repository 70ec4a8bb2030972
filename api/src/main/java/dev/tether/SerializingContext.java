package dev.tether;

import static com.google.common.base.Preconditions.checkState;

import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Executor;
import java.util.concurrent.atomic.AtomicReference;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;

/**
 * Runs tasks one at a time, in the order they were submitted, on the threads that submit them,
 * in the manner of grpc-java's {@code SynchronizationContext}.
 *
 * <p>{@link #execute} queues the task and, unless another thread is draining the queue already,
 * drains it on the calling thread. A task submitted from inside a running task is queued and run
 * right after it by the same thread, so a task never runs re-entrantly. No lock is held while a
 * task runs. A task that throws is logged and the next one runs.
 */
final class SerializingContext implements Executor {
  private final Queue<Runnable> queue = new ConcurrentLinkedQueue<>();
  private final AtomicReference<@Nullable Thread> drainingThread = new AtomicReference<>();
  private final Logger logger;
  private final String name;

  SerializingContext(Logger logger, String name) {
    this.logger = logger;
    this.name = name;
  }

  @Override
  public void execute(Runnable task) {
    queue.add(task);
    drain();
  }

  private void drain() {
    do {
      Thread current = Thread.currentThread();
      if (!drainingThread.compareAndSet(null, current)) {
        return;
      }
      try {
        Runnable task;
        while ((task = queue.poll()) != null) {
          try {
            task.run();
          } catch (Throwable t) {
            logger
                .atError()
                .addKeyValue("persistent-connection-to", name)
                .setCause(t)
                .log("Persistent connection to {}: internal task failed", name);
          }
        }
      } finally {
        drainingThread.set(null);
      }
      // A task queued between the last poll and the release would be stranded: look again.
    } while (!queue.isEmpty());
  }

  /** Throws {@link IllegalStateException} unless the calling thread is draining this context. */
  void checkInContext() {
    checkState(
        Thread.currentThread() == drainingThread.get(), "not running in the serializing context");
  }
}
