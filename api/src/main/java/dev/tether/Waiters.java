package dev.tether;

import static com.google.common.util.concurrent.MoreExecutors.directExecutor;

import com.google.common.util.concurrent.Futures;
import com.google.common.util.concurrent.ListenableFuture;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;
import org.jspecify.annotations.Nullable;

/**
 * The futures that wait for a connection: those of {@code connected()}, which only a connection
 * completes, and those of {@code connectedOrFailedToConnect()}, which the next outcome completes.
 * The sets are confined to the serializing context; {@link #connected()} and {@link
 * #connectedOrFailed()} run on any thread and hand a future to the context. A cancelled future
 * leaves at once, so that callers who give up do not pile up.
 */
final class Waiters<C> {
  /** What the waiters need of their persistent connection; any thread. */
  interface Source<C> {
    /** The current connection's completed future, unless there is none or it is closed. */
    @Nullable ListenableFuture<C> openConnection();

    boolean closeRequested();

    IllegalStateException closedException();

    /** What a waiting future waits for, for its {@code toString()}: see {@link WaitingFuture}. */
    String describeWait();
  }

  private final SerializingContext context;
  private final Source<C> source;
  private final EventLog log;
  private final Set<WaitingFuture<C>> connected = new LinkedHashSet<>();
  private final Set<WaitingFuture<C>> outcome = new LinkedHashSet<>();

  Waiters(SerializingContext context, Source<C> source, EventLog log) {
    this.context = context;
    this.source = source;
    this.log = log;
  }

  /** A future for {@code connected()}: after close it never completes, as the seed says. */
  ListenableFuture<C> connected() {
    return waitFor(connected);
  }

  /** A future for {@code connectedOrFailedToConnect()}: after close it fails. */
  ListenableFuture<C> connectedOrFailed() {
    return waitFor(outcome);
  }

  private ListenableFuture<C> waitFor(Set<WaitingFuture<C>> waiters) {
    if (source.closeRequested()) {
      return waiters == outcome
          ? Futures.immediateFailedFuture(source.closedException())
          : new WaitingFuture<>(source::describeWait);
    }
    ListenableFuture<C> now = source.openConnection();
    if (now != null) {
      return now;
    }
    WaitingFuture<C> waiter = new WaitingFuture<>(source::describeWait);
    context.execute(() -> add(waiters, waiter));
    return waiter;
  }

  /**
   * A future of the next outcome, registered at once: for a step that is about to start the
   * attempt whose outcome it waits for. In the context.
   */
  ListenableFuture<C> nextOutcome() {
    WaitingFuture<C> waiter = new WaitingFuture<>(source::describeWait);
    add(outcome, waiter);
    return waiter;
  }

  @SuppressWarnings("CollectionUndefinedEquality") // identity is the equality meant here
  private void add(Set<WaitingFuture<C>> waiters, WaitingFuture<C> waiter) {
    context.checkInContext();
    if (waiter.isDone()) {
      return; // cancelled already
    }
    if (source.closeRequested()) {
      if (waiters == outcome) {
        guarded(() -> waiter.setException(source.closedException()));
      }
      return;
    }
    ListenableFuture<C> now = source.openConnection();
    if (now != null) {
      C connection = Futures.getUnchecked(now);
      guarded(() -> waiter.set(connection));
      return;
    }
    waiters.add(waiter);
    waiter.addListener(
        () -> {
          if (waiter.isCancelled()) {
            context.execute(() -> waiters.remove(waiter));
          }
        },
        directExecutor());
  }

  /**
   * Completes every waiter with {@code connection}, one by one, until {@code closing} says a
   * waiter's callback closed the persistent connection. The waiters not yet completed then stay,
   * for {@link #closed} to treat as it treats every waiter at close.
   */
  void connected(C connection, BooleanSupplier closing) {
    context.checkInContext();
    completeUntilClosing(connected, connection, closing);
    completeUntilClosing(outcome, connection, closing);
  }

  private void completeUntilClosing(
      Set<WaitingFuture<C>> waiters, C connection, BooleanSupplier closing) {
    List<WaitingFuture<C>> taken = takeAll(waiters);
    for (int i = 0; i < taken.size(); i++) {
      if (closing.getAsBoolean()) {
        waiters.addAll(taken.subList(i, taken.size()));
        return;
      }
      WaitingFuture<C> waiter = taken.get(i);
      guarded(() -> waiter.set(connection));
    }
  }

  /** Fails the waiters of the next outcome with {@code error}. */
  void failed(Throwable error) {
    context.checkInContext();
    for (WaitingFuture<C> waiter : takeAll(outcome)) {
      guarded(() -> waiter.setException(error));
    }
  }

  /** Completes a waiter; see {@link EventLog#complete}. */
  private void guarded(Runnable completion) {
    log.complete("a connected() or connectedOrFailedToConnect() future", completion);
  }

  /**
   * At close: the futures of {@code connected()} are dropped, never to complete, as the seed says;
   * those of {@code connectedOrFailedToConnect()} fail with {@code error}.
   */
  void closed(Throwable error) {
    context.checkInContext();
    connected.clear();
    failed(error);
  }

  private static <V> List<WaitingFuture<V>> takeAll(Set<WaitingFuture<V>> waiters) {
    List<WaitingFuture<V>> taken = new ArrayList<>(waiters);
    waiters.clear();
    return taken;
  }
}
