package dev.tether.testing.faults;

import static com.google.common.base.Preconditions.checkArgument;
import static com.google.common.base.Preconditions.checkState;
import static java.util.Objects.requireNonNull;

import com.google.common.collect.ImmutableList;
import com.google.common.util.concurrent.Futures;
import com.google.common.util.concurrent.ListenableFuture;
import com.google.common.util.concurrent.MoreExecutors;
import com.google.common.util.concurrent.SettableFuture;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.function.Supplier;

/**
 * The steps of a scripted lookup or connector, taken one per call, the last one again past the
 * end (until more are added: the first of those comes next), and the futures handed out.
 * Thread-safe.
 */
final class Script<T> {
  private final String what;
  private final ScheduledExecutorService scheduler;
  private final List<Supplier<ListenableFuture<T>>> steps = new ArrayList<>();
  private final List<ListenableFuture<T>> answers = new ArrayList<>();
  private final Consumer<T> discard;
  /**
   * The step the next call takes, or the count of steps once past the end (the last repeats): a
   * step added after that is taken next, not skipped. Guarded by this.
   */
  private int nextStep;

  /**
   * {@code discard} gets a value that a delayed step made after its future was cancelled (a
   * connection to close, say).
   */
  Script(String what, ScheduledExecutorService scheduler, Consumer<T> discard) {
    this.what = what;
    this.scheduler = requireNonNull(scheduler, "scheduler");
    this.discard = discard;
  }

  synchronized void add(Supplier<ListenableFuture<T>> step) {
    steps.add(step);
  }

  /**
   * Returns {@code delay} if it is a delay a step can wait: checked when the script is written, so
   * that a bad one fails there, naming it, and not in the middle of a test run.
   *
   * @throws NullPointerException if {@code delay} is null
   * @throws IllegalArgumentException if {@code delay} is negative
   */
  static Duration checkedDelay(Duration delay) {
    requireNonNull(delay, "delay");
    checkArgument(!delay.isNegative(), "delay must not be negative: %s", delay);
    return delay;
  }

  /** Runs {@code task} after {@code delay} (checked already), on the script's scheduler. */
  ScheduledFuture<?> schedule(Duration delay, Runnable task) {
    return scheduler.schedule(task, delay.toNanos(), TimeUnit.NANOSECONDS);
  }

  /** Completes with the value of {@code value} after {@code delay} (checked already). */
  ListenableFuture<T> after(Duration delay, Supplier<ListenableFuture<T>> value) {
    SettableFuture<T> answer = SettableFuture.create();
    ScheduledFuture<?> due =
        schedule(
            delay,
            () -> {
              if (answer.isDone()) {
                return; // cancelled meanwhile: nothing is made
              }
              ListenableFuture<T> made = value.get();
              if (!answer.setFuture(made)) { // cancelled at this very moment: never handed out
                made.addListener(
                    () -> {
                      if (made.isDone() && !made.isCancelled()) {
                        try {
                          discard.accept(Futures.getDone(made));
                        } catch (java.util.concurrent.ExecutionException | RuntimeException e) {
                          // a failed value has nothing to discard
                        }
                      }
                    },
                    MoreExecutors.directExecutor());
              }
            });
    answer.addListener(
        () -> {
          if (answer.isCancelled()) {
            due.cancel(false);
          }
        },
        MoreExecutors.directExecutor());
    return answer;
  }

  static <T> ListenableFuture<T> hanging() {
    return SettableFuture.create(); // until the caller cancels it
  }

  static <T> Supplier<ListenableFuture<T>> failing(Throwable error) {
    requireNonNull(error, "error");
    return () -> Futures.immediateFailedFuture(error);
  }

  /** Takes the next step and records its future. */
  ListenableFuture<T> next() {
    int index;
    Supplier<ListenableFuture<T>> step;
    synchronized (this) {
      checkState(!steps.isEmpty(), "the script of %s has no step", what);
      index = answers.size();
      step = steps.get(Math.min(nextStep, steps.size() - 1));
      if (nextStep < steps.size()) {
        nextStep++;
      }
      answers.add(SettableFuture.create()); // holds the place: calls are counted in order
    }
    ListenableFuture<T> answer;
    try {
      answer = step.get();
    } catch (RuntimeException e) { // the scheduler rejected a delay, say
      answer = Futures.immediateFailedFuture(e);
    }
    synchronized (this) {
      answers.set(index, answer);
    }
    return answer;
  }

  synchronized int count() {
    return answers.size();
  }

  synchronized ImmutableList<ListenableFuture<T>> answers() {
    return ImmutableList.copyOf(answers);
  }
}
