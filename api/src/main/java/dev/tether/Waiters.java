package dev.tether;

import static com.google.common.util.concurrent.MoreExecutors.directExecutor;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.function.BooleanSupplier;

/**
 * The futures that wait for a connection, confined to the serializing context: those of {@code
 * connected()}, which only a connection completes, and those of {@code
 * connectedOrFailedToConnect()}, which the next outcome completes. A cancelled future leaves at
 * once, so that callers who give up do not pile up.
 */
final class Waiters<C> {
  private final SerializingContext context;
  private final Set<WaitingFuture<C>> connected = new LinkedHashSet<>();
  private final Set<WaitingFuture<C>> outcome = new LinkedHashSet<>();

  Waiters(SerializingContext context) {
    this.context = context;
  }

  void addConnected(WaitingFuture<C> waiter) {
    add(connected, waiter);
  }

  void addOutcome(WaitingFuture<C> waiter) {
    add(outcome, waiter);
  }

  @SuppressWarnings("CollectionUndefinedEquality") // identity is the equality meant here
  private void add(Set<WaitingFuture<C>> waiters, WaitingFuture<C> waiter) {
    context.checkInContext();
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

  private static <C> void completeUntilClosing(
      Set<WaitingFuture<C>> waiters, C connection, BooleanSupplier closing) {
    List<WaitingFuture<C>> taken = takeAll(waiters);
    for (int i = 0; i < taken.size(); i++) {
      if (closing.getAsBoolean()) {
        waiters.addAll(taken.subList(i, taken.size()));
        return;
      }
      taken.get(i).set(connection);
    }
  }

  /** Fails the waiters of the next outcome with {@code error}. */
  void failed(Throwable error) {
    context.checkInContext();
    for (WaitingFuture<C> waiter : takeAll(outcome)) {
      waiter.setException(error);
    }
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
