package dev.tether.testing;

import static com.google.common.base.Preconditions.checkArgument;
import static java.util.Objects.requireNonNull;

import com.google.common.base.Ticker;
import com.google.common.util.concurrent.AbstractFuture;
import com.google.common.util.concurrent.AbstractListeningExecutorService;
import com.google.common.util.concurrent.ListenableScheduledFuture;
import com.google.common.util.concurrent.ListeningScheduledExecutorService;
import dev.tether.internal.Durations;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.PriorityQueue;
import java.util.concurrent.Callable;
import java.util.concurrent.Delayed;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;
import org.jspecify.annotations.Nullable;

/**
 * A {@link java.util.concurrent.ScheduledExecutorService} whose clock moves only when told to, for
 * deterministic tests of code that schedules timers.
 *
 * <p>Nothing runs until a test calls {@link #advance(Duration)} or {@link #runDueTasks()}: those
 * run every task that is due, in order of due time (tasks due at the same time in the order they
 * were scheduled), on the calling thread, setting the clock to each task's due time while it runs.
 * Tasks that running tasks schedule run in the same call if they fall due within it. {@link
 * #execute} and {@link #submit} schedule a task due now.
 *
 * <p>Inject it wherever the code under test takes a scheduler, such as {@link
 * dev.tether.PersistentConnection.Builder#scheduler}; code that would sleep for a retry delay then
 * takes no wall-clock time at all:
 *
 * <pre>{@code
 * VirtualTimeScheduler time = VirtualTimeScheduler.create();
 * PersistentConnection<String, MyConnection> connection =
 *     PersistentConnection.<String, MyConnection>builder("orders")
 *         .addressLookup(lookup)
 *         .connector(connector)
 *         .scheduler(time)
 *         .build();
 * time.runDueTasks();                  // the first round starts
 * time.advance(Duration.ofSeconds(10)); // ten seconds pass at once
 * }</pre>
 *
 * <p>The scheduler is thread-safe: any thread may schedule and cancel. Calls that run tasks are
 * serialized: one thread at a time runs tasks, and the others wait for it. A task that throws
 * completes its future exceptionally, as in {@link java.util.concurrent.ScheduledThreadPoolExecutor};
 * a periodic task that throws runs no more. {@link #shutdown()} rejects new tasks and cancels
 * periodic ones but keeps the pending one-shot tasks runnable; {@link #shutdownNow()} also drops
 * and cancels those, returning them. Methods that block until tasks
 * finish ({@code invokeAll}, {@code invokeAny}, {@code awaitTermination} for a non-empty queue)
 * would wait for a clock that nobody advances: do not call them from the thread that advances
 * time.
 */
public final class VirtualTimeScheduler extends AbstractListeningExecutorService
    implements ListeningScheduledExecutorService {

  private final Object lock = new Object();
  private final ReentrantLock running = new ReentrantLock();
  private final PriorityQueue<Task<?>> queue = new PriorityQueue<>();
  private long nowNanos; // guarded by lock
  private long sequence; // guarded by lock
  private boolean shutdown; // guarded by lock

  private VirtualTimeScheduler() {}

  /** Returns a new scheduler whose clock reads zero. */
  public static VirtualTimeScheduler create() {
    return new VirtualTimeScheduler();
  }

  /** Returns the time on this scheduler's clock: how far it has been advanced since creation. */
  public Duration now() {
    return Duration.ofNanos(nanoTime());
  }

  /** Returns the time on this scheduler's clock in nanoseconds. */
  public long nanoTime() {
    synchronized (lock) {
      return nowNanos;
    }
  }

  /** Returns a {@link Ticker} that reads this scheduler's clock. */
  public Ticker ticker() {
    return new Ticker() {
      @Override
      public long read() {
        return nanoTime();
      }
    };
  }

  /**
   * Moves the clock forward by {@code duration}, running every task that falls due on the way,
   * and returns how many tasks ran.
   *
   * @throws IllegalArgumentException if {@code duration} is negative
   */
  public int advance(Duration duration) {
    requireNonNull(duration, "duration");
    checkArgument(!duration.isNegative(), "duration must not be negative: %s", duration);
    long nanos = Durations.saturatedNanos(duration);
    running.lock();
    try {
      long target;
      synchronized (lock) {
        target = saturatedAdd(nowNanos, nanos);
      }
      int ran = runUntil(target);
      synchronized (lock) {
        nowNanos = Math.max(nowNanos, target);
      }
      return ran;
    } finally {
      running.unlock();
    }
  }

  /** Runs every task due now, without moving the clock, and returns how many ran. */
  public int runDueTasks() {
    return advance(Duration.ZERO);
  }

  /**
   * Moves the clock to the due time of the next pending task, if it is later than now, and runs
   * every task due then. Returns how many tasks ran: 0 if none was pending.
   */
  public int runNextTasks() {
    running.lock();
    try {
      long target;
      synchronized (lock) {
        Task<?> next = queue.peek();
        if (next == null) {
          return 0;
        }
        target = Math.max(nowNanos, next.dueNanos);
      }
      return runUntil(target);
    } finally {
      running.unlock();
    }
  }

  /** Returns how many tasks are scheduled and not yet run or cancelled. */
  public int pendingTaskCount() {
    synchronized (lock) {
      return queue.size();
    }
  }

  /**
   * Returns how long until the next pending task falls due (zero if it is due already), or {@code
   * null} if no task is pending.
   */
  public @Nullable Duration nextTaskDelay() {
    synchronized (lock) {
      Task<?> next = queue.peek();
      return next == null ? null : Duration.ofNanos(Math.max(0, next.dueNanos - nowNanos));
    }
  }

  private int runUntil(long target) {
    int ran = 0;
    while (true) {
      Task<?> task;
      synchronized (lock) {
        task = queue.peek();
        if (task == null || task.dueNanos > target) {
          return ran;
        }
        queue.poll();
        nowNanos = Math.max(nowNanos, task.dueNanos);
      }
      task.runOnce();
      ran++;
    }
  }

  private static long saturatedAdd(long a, long b) {
    long sum = a + b;
    return ((a ^ sum) & (b ^ sum)) < 0 ? Long.MAX_VALUE : sum;
  }

  private <V> Task<V> enqueue(Task<V> task) {
    synchronized (lock) {
      if (shutdown) {
        throw new RejectedExecutionException("VirtualTimeScheduler is shut down");
      }
      task.sequence = sequence++;
      task.dueNanos = saturatedAdd(nowNanos, Math.max(0, task.initialDelayNanos));
      queue.add(task);
    }
    return task;
  }

  private void requeue(Task<?> task, long dueNanos) {
    synchronized (lock) {
      if (task.isDone()) {
        return;
      }
      if (!shutdown) {
        task.sequence = sequence++;
        task.dueNanos = dueNanos;
        queue.add(task);
        return;
      }
    }
    task.cancel(false); // periodic tasks end at shutdown, as in ScheduledThreadPoolExecutor
  }

  private void remove(Task<?> task) {
    synchronized (lock) {
      queue.remove(task);
    }
  }

  // ---- ScheduledExecutorService ----

  @Override
  public void execute(Runnable command) {
    requireNonNull(command, "command");
    Task<?> unused = enqueue(new Task<>(Executors.callable(command, null), 0, 0));
  }

  @Override
  public ListenableScheduledFuture<?> schedule(Runnable command, long delay, TimeUnit unit) {
    requireNonNull(command, "command");
    return enqueue(new Task<>(Executors.callable(command, null), unit.toNanos(delay), 0));
  }

  @Override
  public <V extends @Nullable Object> ListenableScheduledFuture<V> schedule(
      Callable<V> callable, long delay, TimeUnit unit) {
    requireNonNull(callable, "callable");
    return enqueue(new Task<>(callable, unit.toNanos(delay), 0));
  }

  @Override
  public ListenableScheduledFuture<?> scheduleAtFixedRate(
      Runnable command, long initialDelay, long period, TimeUnit unit) {
    checkArgument(period > 0, "period must be positive: %s", period);
    return periodic(command, initialDelay, unit.toNanos(period), unit);
  }

  @Override
  public ListenableScheduledFuture<?> scheduleWithFixedDelay(
      Runnable command, long initialDelay, long delay, TimeUnit unit) {
    checkArgument(delay > 0, "delay must be positive: %s", delay);
    return periodic(command, initialDelay, -unit.toNanos(delay), unit);
  }

  /** A repeating task: a positive period is a fixed rate, a negative one a fixed delay. */
  private ListenableScheduledFuture<?> periodic(
      Runnable command, long initialDelay, long signedPeriodNanos, TimeUnit unit) {
    requireNonNull(command, "command");
    return enqueue(
        new Task<>(Executors.callable(command, null), unit.toNanos(initialDelay), signedPeriodNanos));
  }

  /**
   * Accepts no new task; the queued one-shot tasks still run as time advances, while periodic
   * tasks are cancelled (as {@link java.util.concurrent.ScheduledThreadPoolExecutor} does by
   * default).
   */
  @Override
  public void shutdown() {
    List<Task<?>> periodic = new ArrayList<>();
    synchronized (lock) {
      shutdown = true;
      for (Task<?> task : queue) {
        if (task.periodNanos != 0) {
          periodic.add(task);
        }
      }
    }
    periodic.forEach(task -> task.cancel(false)); // outside the lock: listeners may run
  }

  @Override
  public List<Runnable> shutdownNow() {
    List<Task<?>> dropped;
    synchronized (lock) {
      shutdown = true;
      dropped = new ArrayList<>(queue);
      queue.clear();
    }
    List<Runnable> result = new ArrayList<>();
    for (Task<?> task : dropped) {
      task.cancel(false);
      result.add(task);
    }
    return result;
  }

  @Override
  public boolean isShutdown() {
    synchronized (lock) {
      return shutdown;
    }
  }

  @Override
  public boolean isTerminated() {
    synchronized (lock) {
      return shutdown && queue.isEmpty();
    }
  }

  /** Returns at once whether the scheduler {@linkplain #isTerminated() is terminated}: virtual time never passes by waiting. */
  @Override
  public boolean awaitTermination(long timeout, TimeUnit unit) {
    return isTerminated();
  }

  @Override
  public String toString() {
    synchronized (lock) {
      return "VirtualTimeScheduler[now=" + Duration.ofNanos(nowNanos) + ", pending=" + queue.size() + "]";
    }
  }

  /**
   * A scheduled task and its future. {@code periodNanos} is 0 for a one-shot task, positive for a
   * fixed rate and negative for a fixed delay, as in {@code ScheduledThreadPoolExecutor}.
   */
  private final class Task<V extends @Nullable Object> extends AbstractFuture<V>
      implements ListenableScheduledFuture<V>, Runnable {
    private final Callable<V> callable;
    private final long initialDelayNanos;
    private final long periodNanos;
    long dueNanos; // guarded by lock
    long sequence; // guarded by lock

    Task(Callable<V> callable, long initialDelayNanos, long periodNanos) {
      this.callable = callable;
      this.initialDelayNanos = initialDelayNanos;
      this.periodNanos = periodNanos;
    }

    /** Runs the task once, unless it is done or cancelled (as those {@link #shutdownNow()} returns are). */
    @Override
    public void run() {
      runOnce();
    }

    void runOnce() {
      if (isDone()) {
        return;
      }
      V value;
      try {
        value = callable.call();
      } catch (Throwable t) {
        setException(t);
        return;
      }
      if (periodNanos == 0) {
        set(value);
        return;
      }
      long base;
      synchronized (lock) {
        base = periodNanos > 0 ? dueNanos : nowNanos;
      }
      requeue(this, saturatedAdd(base, Math.abs(periodNanos)));
    }

    @Override
    public boolean cancel(boolean mayInterruptIfRunning) {
      boolean cancelled = super.cancel(mayInterruptIfRunning);
      if (cancelled) {
        remove(this);
      }
      return cancelled;
    }

    @Override
    public long getDelay(TimeUnit unit) {
      synchronized (lock) {
        return unit.convert(dueNanos - nowNanos, TimeUnit.NANOSECONDS);
      }
    }

    @Override
    public int compareTo(Delayed other) {
      if (other == this) {
        return 0;
      }
      if (other instanceof Task<?> task) {
        int byTime = Long.compare(dueNanos, task.dueNanos);
        return byTime != 0 ? byTime : Long.compare(sequence, task.sequence);
      }
      return Long.compare(getDelay(TimeUnit.NANOSECONDS), other.getDelay(TimeUnit.NANOSECONDS));
    }
  }
}
