package dev.tether;

import dev.tether.internal.OpenFuture;
import java.util.function.Supplier;
import org.jspecify.annotations.Nullable;

/**
 * The future of {@code connected()} or {@code connectedOrFailedToConnect()} while it waits. It
 * says what it waits for: its {@code toString()}, which Guava puts in the {@code TimeoutException}
 * of a bounded {@code get}, names the server and tells the persistent connection's state and its
 * last failure, instead of only {@code PENDING}.
 */
final class WaitingFuture<C> extends OpenFuture<C> {
  private final Supplier<String> waitingFor;

  WaitingFuture(Supplier<String> waitingFor) {
    this.waitingFor = waitingFor;
  }

  @Override
  protected @Nullable String pendingToString() {
    try {
      return waitingFor.get();
    } catch (RuntimeException e) {
      return null; // only a description: never let it break a get()
    }
  }
}
