package dev.tether;

import com.google.common.util.concurrent.ListenableFuture;
import dev.tether.internal.UncancellableFuture;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;
import org.jspecify.annotations.Nullable;

/**
 * One handover (DESIGN 7.5): a background attempt, with no events, while the current connection
 * keeps serving. Confined to the serializing context, but for {@link #result}, which any thread
 * may read. The loop decides what its outcomes mean through {@link Host}.
 */
final class Handover<A, C extends Closable> extends Background<A, C> {
  /** What a handover asks of its loop, in the context. */
  interface Host<A, C extends Closable> {
    /** The lookup yielded {@code address}; returns whether the attempt should connect to it. */
    boolean handoverObtained(Handover<A, C> handover, A address);

    /** The new connection, initialized: the loop switches to it. */
    void handedOver(Handover<A, C> handover, C connection, A address, RetryTimer timer);

    /** The handover failed; the loop forgets it. */
    void handoverFailed(Handover<A, C> handover);
  }

  private final Host<A, C> host;
  /** What {@code handOver()} returns; it ignores {@code cancel()}. */
  private final UncancellableFuture<C> result;
  /** Holds {@link #result} while the handover is asked for or in flight. */
  private final AtomicReference<@Nullable UncancellableFuture<C>> slot;

  Handover(
      LoopParts<A, C> parts,
      Host<A, C> host,
      UncancellableFuture<C> result,
      AtomicReference<@Nullable UncancellableFuture<C>> slot) {
    super(parts);
    this.host = host;
    this.result = result;
    this.slot = slot;
  }

  @Override
  void begin() {
    attempt = parts.newAttempt(0, () -> {}, this);
    if (attempt != null) {
      attempt.lookUp();
    }
  }

  @Override
  public void obtained(Attempt<A, C> from, A obtained) {
    if (from == attempt && !stopped()) {
      address = obtained;
      if (host.handoverObtained(this, obtained)) {
        from.connect(obtained);
      } else {
        super.stop(); // the loop completed it
        from.timer().cancel();
      }
    }
  }

  @Override
  void readyAt(Attempt<A, C> from, C connection, A made) {
    super.stop();
    host.handedOver(this, connection, made, from.timer());
  }

  @Override
  public void failed(Attempt<A, C> from, ConnectAttemptException error) {
    if (from == attempt && !stopped()) {
      super.stop();
      from.timer().cancel();
      parts.log.warn("a handover failed; the current connection stays", error);
      host.handoverFailed(this); // first: a callback of the future may call handOver() again
      ended(result -> result.setException(error));
    }
  }

  /**
   * Abandons the handover, its future failing with {@code why}: cancels the token wait and the
   * attempt, which closes a connection it made.
   */
  void stop(Throwable why) {
    super.stop();
    if (attempt != null) {
      attempt.cancel();
      attempt.timer().cancel();
    }
    ended(result -> result.setException(why));
  }

  /** The handover switched, but a listener of its events closed the loop: it fails with {@code why}. */
  void closedMeanwhile(Throwable why) {
    super.stop();
    ended(result -> result.setException(why));
  }

  /** The handover made {@code connection} current, or found it current already. */
  void succeed(C connection) {
    super.stop();
    ended(result -> result.set(connection));
  }

  /** No handover: the result is {@code future}'s. */
  void follow(ListenableFuture<C> future) {
    super.stop();
    ended(result -> result.setFuture(future));
  }

  /**
   * The next {@code handOver()} starts another handover; completes the result with {@code
   * completion}, guarded: a callback of the future that throws (an {@code Error} included) is
   * logged and the loop's step goes on.
   */
  private void ended(Consumer<UncancellableFuture<C>> completion) {
    slot.compareAndSet(result, null);
    parts.log.complete("a handOver() future", () -> completion.accept(result));
  }
}
