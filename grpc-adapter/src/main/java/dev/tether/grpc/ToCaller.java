package dev.tether.grpc;

import static java.util.Objects.requireNonNull;

import dev.tether.internal.SerializingExecutor;
import io.grpc.ClientCall.Listener;
import io.grpc.Metadata;
import io.grpc.Status;
import java.util.function.BiConsumer;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The caller's listener of a {@link MovingCall}, as its attempts reach it: one callback at a time,
 * in order, never from an abandoned attempt, and nothing after {@code onClose}, which comes once.
 * A listener that throws from a callback gets no other callback but {@code onClose}, as in gRPC.
 * A callback runs inline when no other thread is delivering one (the usual case, which allocates
 * nothing), else right after the one that is.
 */
final class ToCaller<RespT> {
  private static final Logger logger = LoggerFactory.getLogger(ToCaller.class);

  /** The callbacks before the close, so that the usual one needs no lambda. */
  enum Callback {
    HEADERS,
    MESSAGE,
    READY
  }

  private final SerializingExecutor turns =
      new SerializingExecutor(t -> logger.warn("a call listener's onClose threw", t));
  /** Told when a listener throws from a callback before the close: cancels the call, as gRPC does. */
  private final BiConsumer<String, Throwable> listenerThrew;
  private volatile @Nullable Listener<RespT> listener;
  private boolean closed; // confined to turns
  /**
   * What the call ends with once the listener threw: as in gRPC, it gets nothing more but its
   * {@code onClose}, with CANCELLED and what it threw, whatever the stream ended with meanwhile (a
   * server that had already answered OK, say). Confined to turns.
   */
  private @Nullable Status threw;

  ToCaller(BiConsumer<String, Throwable> listenerThrew) {
    this.listenerThrew = listenerThrew;
  }

  void set(Listener<RespT> listener) {
    this.listener = listener;
  }

  void deliver(CallAttempt<?, RespT> from, Callback callback, @Nullable Object argument) {
    if (turns.tryEnter()) {
      try {
        deliverNow(from, callback, argument);
      } finally {
        turns.exit();
      }
    } else {
      turns.execute(() -> deliverNow(from, callback, argument));
    }
  }

  @SuppressWarnings("unchecked") // the argument of MESSAGE is a response
  private void deliverNow(CallAttempt<?, RespT> from, Callback callback, @Nullable Object argument) {
    if (closed || threw != null || from.abandoned) {
      return;
    }
    Listener<RespT> caller = requireNonNull(listener);
    try {
      switch (callback) {
        case HEADERS -> caller.onHeaders((Metadata) requireNonNull(argument));
        case MESSAGE -> caller.onMessage((RespT) argument);
        case READY -> caller.onReady();
      }
    } catch (Throwable t) {
      String why = "the call's listener threw from " + callback;
      threw = Status.CANCELLED.withDescription(why).withCause(t);
      listenerThrew.accept(why, t);
    }
  }

  void close(Status status, Metadata trailers) {
    turns.execute(
        () -> {
          if (!closed) {
            closed = true;
            Status cancelled = threw;
            requireNonNull(listener)
                .onClose(
                    cancelled != null ? cancelled : status,
                    cancelled != null ? new Metadata() : trailers);
          }
        });
  }
}
