package dev.tether;

import com.google.common.util.concurrent.ListenableFuture;
import dev.tether.internal.UncancellableFuture;
import java.util.concurrent.atomic.AtomicReference;
import org.jspecify.annotations.Nullable;

/**
 * One handover (DESIGN 7.5): a background attempt, with no events, while the current connection
 * keeps serving. Confined to the serializing context, but for {@link #result}, which any thread
 * may read. The loop decides what its outcomes mean through {@link Host}.
 */
final class Handover<A, C extends Closable> implements Attempt.Outcomes<A, C> {
  /** What a handover asks of its loop, in the context. */
  interface Host<A, C extends Closable> {
    /** The lookup yielded {@code address}; returns whether the attempt should connect to it. */
    boolean handoverObtained(Handover<A, C> handover, A address);

    /** The new connection, initialized: the loop switches to it. */
    void handedOver(Handover<A, C> handover, C connection, A address, RetryTimer timer);

    /** The handover failed; the loop forgets it. */
    void handoverFailed(Handover<A, C> handover);
  }

  private final LoopParts<A, C> parts;
  private final Host<A, C> host;
  /** What {@code handOver()} returns; it ignores {@code cancel()}. */
  private final UncancellableFuture<C> result;
  /** Holds {@link #result} while the handover is asked for or in flight. */
  private final AtomicReference<@Nullable UncancellableFuture<C>> slot;
  private @Nullable RetryTimer token;
  private @Nullable Attempt<A, C> attempt;
  private @Nullable A address;
  private boolean stopped;

  Handover(
      LoopParts<A, C> parts,
      Host<A, C> host,
      UncancellableFuture<C> result,
      AtomicReference<@Nullable UncancellableFuture<C>> slot) {
    this.parts = parts;
    this.host = host;
    this.result = result;
    this.slot = slot;
  }

  /** Starts the attempt, when its budget token is due. */
  void start() {
    token = parts.waitForToken(this::begin);
    if (token == null) {
      begin();
    }
  }

  private void begin() {
    token = null;
    if (!stopped && !parts.closeRequested()) {
      attempt = parts.newAttempt(0, () -> {}, this);
      if (attempt != null) {
        attempt.lookUp();
      }
    }
  }

  @Override
  public void obtained(Attempt<A, C> from, A obtained) {
    if (from == attempt && !stopped) {
      address = obtained;
      if (host.handoverObtained(this, obtained)) {
        from.connect(obtained);
      } else {
        stopped = true; // the loop completed it
        from.timer().cancel();
      }
    }
  }

  @Override
  public void ready(Attempt<A, C> from, C connection) {
    A made = address;
    if (from != attempt || made == null || stopped) {
      parts.closer.closeUnpublished(connection);
      return;
    }
    stopped = true;
    host.handedOver(this, connection, made, from.timer());
  }

  @Override
  public void failed(Attempt<A, C> from, ConnectAttemptException error) {
    if (from == attempt && !stopped) {
      stopped = true;
      from.timer().cancel();
      parts.log.warn("a handover failed; the current connection stays", error);
      ended().setException(error);
      host.handoverFailed(this);
    }
  }

  /**
   * Abandons the handover, its future failing with {@code why}: cancels the token wait and the
   * attempt, which closes a connection it made.
   */
  void stop(Throwable why) {
    stopped = true;
    if (token != null) {
      token.cancel();
    }
    if (attempt != null) {
      attempt.cancel();
      attempt.timer().cancel();
    }
    ended().setException(why);
  }

  /** The handover made {@code connection} current, or found it current already. */
  void succeed(C connection) {
    stopped = true;
    ended().set(connection);
  }

  /** No handover: the result is {@code future}'s. */
  void follow(ListenableFuture<C> future) {
    stopped = true;
    ended().setFuture(future);
  }

  /** The next {@code handOver()} starts another handover; returns the result to complete. */
  private UncancellableFuture<C> ended() {
    slot.compareAndSet(result, null);
    return result;
  }
}
