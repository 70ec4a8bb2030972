package dev.tether;

import com.google.common.util.concurrent.Futures;
import com.google.common.util.concurrent.ListenableFuture;
import org.jspecify.annotations.Nullable;

/**
 * The states of a persistent connection's loop, in the seed's words. Each case carries what the
 * loop owns while in it: the retry timer of the latest attempt, the attempt in flight, the current
 * connection, the connection being closed. Immutable; the loop moves from one to the next in one method, in its serializing
 * context, and a state that is left releases the timer the next one does not carry over.
 *
 * @param <A> the address type
 * @param <C> the connection type
 */
sealed interface LoopState<A, C>
    permits LoopState.Waiting,
        LoopState.Attempting,
        LoopState.Connected,
        LoopState.Closing,
        LoopState.Closed {

  /** What {@link ConnectionState#status()} says of this state. */
  default ConnectionState.Status status() {
    if (this instanceof Waiting) {
      return ConnectionState.Status.WAITING_TO_RETRY;
    } else if (this instanceof Attempting) {
      return ConnectionState.Status.CONNECTING;
    } else if (this instanceof Connected) {
      return ConnectionState.Status.CONNECTED;
    } else if (this instanceof Closing) {
      return ConnectionState.Status.CLOSING;
    }
    return ConnectionState.Status.CLOSED;
  }

  /** The retry timer this state owns, if any. */
  default @Nullable RetryTimer timer() {
    return null;
  }

  /** The live standby's address, if any. */
  default @Nullable A standbyAddress() {
    return null;
  }

  /** The current connection, if any: published, and not yet seen to end. */
  default @Nullable Current<C> current() {
    return null;
  }

  /** A published connection, with the completed future that {@code connected()} hands out. */
  record Current<C>(C connection, ListenableFuture<C> future) {
    static <C> Current<C> of(C connection) {
      return new Current<>(connection, Futures.immediateFuture(connection));
    }
  }

  /** What a {@link Waiting} state starts when its timer fires. */
  enum Next {
    /** A new round: after a drop, or the first round. */
    ROUND,
    /** The next attempt of the round, which takes a budget token first. */
    ATTEMPT,
    /** The next attempt of the round, whose budget token is due. */
    ATTEMPT_WITH_TOKEN
  }

  /**
   * Waiting for {@code timer}: the retry timer of a failed attempt or of a young connection that
   * dropped, or the wait for a budget token; no timer yet before the first round.
   */
  record Waiting<A, C>(@Nullable RetryTimer timer, Next next) implements LoopState<A, C> {
    static <A, C> Waiting<A, C> beforeFirstRound() {
      return new Waiting<>(null, Next.ROUND);
    }
  }

  /**
   * A round's attempt in flight; none while the round is announced, before its attempt starts,
   * and between a failed attempt whose timer had fired and the next.
   */
  record Attempting<A, C extends Closable>(@Nullable Attempt<A, C> attempt)
      implements LoopState<A, C> {
    @Override
    public @Nullable RetryTimer timer() {
      return attempt == null ? null : attempt.timer();
    }
  }

  /**
   * A connection is current; {@code timer} is that of the attempt that made it, which says
   * whether its end is followed by a new round at once. {@code announced} once {@code Connected}
   * is being delivered: only then does its end emit {@code Disconnected}. With the standby of
   * this connected period and the handover in flight, if any.
   */
  record Connected<A, C extends Closable>(
      Current<C> current,
      RetryTimer timer,
      boolean announced,
      @Nullable Standby<A, C> standby,
      @Nullable Handover<A, C> handover)
      implements LoopState<A, C> {
    Connected<A, C> announce() {
      return new Connected<>(current, timer, true, standby, handover);
    }

    Connected<A, C> with(@Nullable Standby<A, C> newStandby, @Nullable Handover<A, C> newHandover) {
      return new Connected<>(current, timer, announced, newStandby, newHandover);
    }

    /** Stops what this connected period runs in the background: its handover and standby. */
    void endBackground(Throwable why) {
      if (handover != null) {
        handover.stop(why);
      }
      if (standby != null) {
        standby.stop();
      }
    }

    @Override
    public @Nullable A standbyAddress() {
      return standby == null ? null : standby.liveAddress();
    }
  }

  /**
   * {@code close()} was acted on: waiting for the current connection to close ({@code announced}:
   * its end emits {@code Disconnected}), and for what the {@link ConnectionCloser} counts (the
   * cancelled attempt's future in flight, connections never published). Only {@link Closed}
   * follows.
   */
  record Closing<A, C>(@Nullable Current<C> current, boolean announced)
      implements LoopState<A, C> {
  }

  /** Everything is closed; {@code closeFinished()} completes. Terminal. */
  record Closed<A, C>() implements LoopState<A, C> {}
}
