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
  ConnectionState.Status status();

  /** The retry timer this state owns, if any. */
  default @Nullable RetryTimer timer() {
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

  /**
   * Waiting for {@code timer} to start the next attempt, or with {@code newRound} the next round:
   * after a failed attempt, after a young connection dropped, or (no timer yet) before the first
   * round.
   */
  record Waiting<A, C>(@Nullable RetryTimer timer, boolean newRound) implements LoopState<A, C> {
    static <A, C> Waiting<A, C> beforeFirstRound() {
      return new Waiting<>(null, true);
    }

    @Override
    public ConnectionState.Status status() {
      return ConnectionState.Status.WAITING_TO_RETRY;
    }
  }

  /**
   * An attempt of the round in flight, with its retry timer; neither while a round is announced,
   * before its first attempt starts, and no attempt once one failed after its timer fired, until
   * the next starts.
   */
  record Attempting<A, C extends Closable>(
      @Nullable RetryTimer timer, @Nullable Attempt<A, C> attempt) implements LoopState<A, C> {
    @Override
    public ConnectionState.Status status() {
      return ConnectionState.Status.CONNECTING;
    }
  }

  /**
   * A connection is current; {@code timer} is that of the attempt that made it, which says
   * whether its end is followed by a new round at once. {@code announced} once {@code Connected}
   * is being delivered: only then does its end emit {@code Disconnected}.
   */
  record Connected<A, C>(Current<C> current, RetryTimer timer, boolean announced)
      implements LoopState<A, C> {
    @Override
    public ConnectionState.Status status() {
      return ConnectionState.Status.CONNECTED;
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
    @Override
    public ConnectionState.Status status() {
      return ConnectionState.Status.CLOSING;
    }
  }

  /** Everything is closed; {@code closeFinished()} completes. Terminal. */
  record Closed<A, C>() implements LoopState<A, C> {
    @Override
    public ConnectionState.Status status() {
      return ConnectionState.Status.CLOSED;
    }
  }
}
