package dev.tether.internal;

import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Executor;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;
import org.jspecify.annotations.Nullable;

/**
 * Runs tasks one at a time, in the order they were submitted, on the threads that submit them,
 * in the manner of grpc-java's {@code SynchronizationContext}. Not part of the public API.
 *
 * <p>{@link #execute} queues the task and, unless another thread is draining the queue already,
 * drains it on the calling thread. A task submitted from inside a running task is queued and run
 * right after it by the same thread, so a task never runs re-entrantly. No lock is held while a
 * task runs. A task that throws is handed to the error handler and the next one runs.
 */
public final class SerializingExecutor implements Executor {
  private final Queue<Runnable> queue = new ConcurrentLinkedQueue<>();
  private final AtomicReference<@Nullable Thread> drainingThread = new AtomicReference<>();
  private final Consumer<Throwable> onError;

  /** Creates an executor that hands what a task throws to {@code onError}. */
  public SerializingExecutor(Consumer<Throwable> onError) {
    this.onError = onError;
  }

  @Override
  public void execute(Runnable task) {
    queue.add(task);
    if (tryEnter()) {
      exit();
    }
  }

  /**
   * Takes the turn to run tasks, if no thread has it: then the caller runs its own work inline,
   * as if it were a task, and must call {@link #exit()} after it. A fast path for work that is
   * seldom contended: it allocates nothing. The tasks queued before the turn was taken run first,
   * here (a thread that had the turn may have given it up before running them), so inline work
   * never overtakes work submitted before it. Returns false, taking nothing, if another thread
   * has the turn; submit the work with {@link #execute} then.
   */
  public boolean tryEnter() {
    if (!drainingThread.compareAndSet(null, Thread.currentThread())) {
      return false;
    }
    runQueued();
    return true;
  }

  /** Runs what was queued meanwhile, then gives the turn up. Only after {@link #tryEnter()}. */
  public void exit() {
    do {
      try {
        runQueued();
      } finally {
        drainingThread.set(null);
      }
      // A task queued between the last poll and the release would be stranded: look again.
    } while (!queue.isEmpty() && tryEnter());
  }

  /** Runs the queued tasks, with the turn. */
  private void runQueued() {
    Runnable task;
    while ((task = queue.poll()) != null) {
      try {
        task.run();
      } catch (Throwable t) {
        try {
          onError.accept(t);
        } catch (Throwable ignored) {
          // A broken error handler must not strand the queue.
        }
      }
    }
  }

  /** Returns whether the calling thread is the one running this executor's tasks. */
  public boolean isRunningTasks() {
    return Thread.currentThread() == drainingThread.get();
  }
}
