package dev.tether;

import static com.google.common.util.concurrent.MoreExecutors.directExecutor;

import com.google.common.util.concurrent.Futures;
import com.google.common.util.concurrent.ListenableFuture;
import java.util.concurrent.Callable;
import java.util.concurrent.CancellationException;
import java.util.concurrent.ExecutionException;
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

  /** The initializer's call for {@code connection}, its outcome made a non-null result. */
  static <C> Callable<ListenableFuture<Boolean>> initializing(
      ConnectionInitializer<? super C> initializer, C connection) {
    return () -> {
      ListenableFuture<?> preparing = initializer.initialize(connection);
      return preparing == null
          ? null
          : Futures.transform(preparing, ignored -> Boolean.TRUE, directExecutor());
    };
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

  /** Hands the outcome of {@code done}, a future that {@link #start()} returned, on. */
  void finish(ListenableFuture<T> done) {
    T value;
    try {
      value = Futures.getDone(done);
    } catch (ExecutionException e) {
      Throwable cause = e.getCause();
      failed.accept(cause != null ? cause : e);
      return;
    } catch (CancellationException e) {
      failed.accept(e);
      return;
    } catch (Throwable t) {
      // Reading the failure threw: an ExecutionException is built with its cause's toString(),
      // which may throw; or the future's get() itself did. The attempt fails all the same.
      failed.accept(new IllegalStateException("the future failed, and reading its error threw", t));
      return;
    }
    if (value == null) {
      failed.accept(new NullPointerException(call + " yielded a null " + yields));
      return;
    }
    then.accept(value);
  }
}
