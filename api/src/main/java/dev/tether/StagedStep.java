package dev.tether;

import static com.google.common.util.concurrent.MoreExecutors.directExecutor;

import com.google.common.util.concurrent.AbstractFuture;
import com.google.common.util.concurrent.FutureCallback;
import com.google.common.util.concurrent.Futures;
import com.google.common.util.concurrent.ListenableFuture;
import java.util.concurrent.Callable;
import java.util.function.Consumer;
import org.jspecify.annotations.Nullable;

/**
 * One stage of an attempt (lookup, connect, initialize): the user's call that starts it, and
 * where its outcome goes. A throw, a null future, a failed or cancelled future and a null result
 * all go to {@code failed}, the library's own words naming {@code call}; a result goes to {@code
 * then}. The loop keeps the future in flight and decides whether its outcome still counts.
 *
 * @param call the user's method, as its message names it: "Connector.connect()"
 * @param yields what its future yields, as its message names it: "connection"
 */
record StagedStep<T>(
    String call,
    String yields,
    Callable<ListenableFuture<T>> user,
    Consumer<T> then,
    Consumer<Throwable> failed) {

  /**
   * The initializer's call for {@code connection}, its outcome made a non-null result (see {@link
   * Initialized}).
   */
  static <C> Callable<ListenableFuture<Boolean>> initializing(
      ConnectionInitializer<? super C> initializer, C connection) {
    return () -> {
      ListenableFuture<?> preparing = initializer.initialize(connection);
      return preparing == null ? null : new Initialized(preparing);
    };
  }

  /**
   * The outcome of an initializer's future as a non-null result: {@code TRUE} once it succeeded,
   * its failure (the cause itself) or its cancellation once it failed. Unlike a transformed
   * future, cancelling this one only cancels the initializer's future and completes when that
   * completes, as the loop holds a lookup's or a connector's future: so a {@code close()} waits
   * for an initializer that ends only some time after its cancel (a coroutine that finishes its
   * {@code finally} blocks), as for a lookup or a connect.
   */
  private static final class Initialized extends AbstractFuture<Boolean>
      implements FutureCallback<Object> {
    private final ListenableFuture<?> preparing;

    Initialized(ListenableFuture<?> preparing) {
      this.preparing = preparing;
      // Guava's callback passes a failure's cause as it is (see finish).
      Futures.addCallback(preparing, this, directExecutor());
    }

    @Override
    public void onSuccess(@Nullable Object result) {
      set(Boolean.TRUE);
    }

    @Override
    @SuppressWarnings("NullAway") // see Outcome.onFailure
    public void onFailure(Throwable thrown) {
      if (preparing.isCancelled()) {
        super.cancel(false);
      } else {
        // Guava passes the ExecutionException's cause, which a future of another make may lack.
        setException(thrown != null ? thrown : new IllegalStateException("initializer failed without a cause"));
      }
    }

    /** Cancels the initializer's future; this completes when that does. */
    @Override
    public boolean cancel(boolean mayInterruptIfRunning) {
      preparing.cancel(mayInterruptIfRunning);
      return false;
    }
  }

  /** Calls the user's method; returns its future, or null once a failure went to {@code failed}. */
  @Nullable ListenableFuture<T> start() {
    ListenableFuture<T> future;
    try {
      future = user.call();
    } catch (Throwable t) {
      failed.accept(t);
      return null;
    }
    if (future == null) {
      failed.accept(new NullPointerException(call + " returned null"));
    }
    return future;
  }

  /**
   * Hands the outcome of {@code done}, a future that {@link #start()} returned and that is done,
   * on, at once. The outcome is read through Guava's callback, which takes the failure of Guava's
   * own futures as it is: building an {@code ExecutionException} calls the cause's {@code
   * toString()}, which a user's error may break, and a failed future must fail the attempt with
   * the same cause as the same error thrown. (A future of another make is read with {@code get()};
   * if that throws, what it threw fails the attempt.) The callback only records: the loop acts
   * after it, so that what the loop does is not run inside a future's listener.
   */
  void finish(ListenableFuture<T> done) {
    Outcome<T> outcome = Outcome.of(done);
    if (!outcome.read) {
      failed.accept(new IllegalStateException(call + "'s future was not done when read"));
    } else if (outcome.failed) {
      Throwable error = outcome.error;
      failed.accept(error != null ? error : new IllegalStateException(call + " failed without a cause"));
    } else if (outcome.value == null) {
      failed.accept(new NullPointerException(call + " yielded a null " + yields));
    } else {
      then.accept(outcome.value);
    }
  }

  /** What a done future held, read on the thread that asked. */
  static final class Outcome<T> implements FutureCallback<T> {
    boolean read;
    boolean failed;
    @Nullable T value;
    @Nullable Throwable error;

    /**
     * Reads {@code done} through Guava's callback, which runs at once on a done future and takes
     * a failure as it is: no {@code ExecutionException} is built around a user's error. {@link
     * #read} is false if the future was not done.
     */
    static <T> Outcome<T> of(ListenableFuture<T> done) {
      Outcome<T> outcome = new Outcome<>();
      Futures.addCallback(done, outcome, directExecutor());
      return outcome;
    }

    @Override
    public void onSuccess(@Nullable T result) {
      read = true;
      value = result;
    }

    @Override
    @SuppressWarnings("NullAway") // Guava passes the ExecutionException's cause, which may be null
    public void onFailure(Throwable thrown) {
      read = true;
      failed = true;
      error = thrown;
    }
  }
}
