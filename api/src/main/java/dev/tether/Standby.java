package dev.tether;

import dev.tether.LoopState.Current;
import java.util.function.Supplier;
import org.jspecify.annotations.Nullable;

/**
 * The warm standby of one connected period (DESIGN 7.6): background attempts, with no events,
 * until one leaves a live standby, a connection to another address than the current one's,
 * connected and initialized. Confined to the serializing context.
 *
 * <p>Each standby attempt waits for its budget token, then starts its own retry timer ({@code
 * RetryDelay.next} given the count of consecutive standby attempts that left no standby) with its
 * lookup. An attempt leaves no standby when it fails (logged at WARN), when its lookup yields the
 * current connection's address, or when the standby it made drops; the next one starts when its
 * timer fires, at once if it has. The loop takes a live standby with {@link #take()} when the
 * current connection drops or a handover finds its address, and {@link #stop()}s the standby when
 * it leaves the connected state: that closes a live standby and cancels an attempt.
 */
final class Standby<A, C extends Closable> extends Background<A, C> {
  /** A live standby: its connection, address, and the retry timer of the attempt that made it. */
  record Live<A, C>(Current<C> current, A address, RetryTimer timer) {}

  private final Supplier<@Nullable A> currentAddress;
  /** Publishes the loop's state: {@code standbyAddress} changed. */
  private final Runnable changed;
  private int failures;
  /** The retry timer of the latest attempt. */
  private @Nullable RetryTimer timer;
  private @Nullable Live<A, C> live;

  Standby(LoopParts<A, C> parts, Supplier<@Nullable A> currentAddress, Runnable changed) {
    super(parts);
    this.currentAddress = currentAddress;
    this.changed = changed;
  }

  @Override
  void begin() {
    Attempt<A, C> next = parts.newAttempt(failures, this::timerFired, this);
    if (next != null) {
      attempt = next;
      timer = next.timer();
      next.lookUp();
    }
  }

  private void timerFired() {
    if (!stopped() && tokenWaitOver() && attempt == null && live == null) {
      start();
    }
  }

  /** The latest attempt left no standby: the next starts when its timer fires. */
  private void leftNone() {
    attempt = null;
    address = null;
    if (failures < Integer.MAX_VALUE) {
      failures++;
    }
    RetryTimer latest = timer;
    if (latest == null || latest.fired()) {
      start();
    }
  }

  @Override
  public void obtained(Attempt<A, C> from, A obtained) {
    if (from != attempt) {
      return;
    }
    if (parts.tally.sameAddress(obtained, currentAddress.get())) {
      from.cancel();
      leftNone();
      return;
    }
    address = obtained;
    from.connect(obtained);
  }

  @Override
  void readyAt(Attempt<A, C> from, C connection, A made) {
    if (parts.tally.sameAddress(made, currentAddress.get())) {
      parts.closer.closeUnpublished(connection); // the current connection moved there meanwhile
      leftNone();
      return;
    }
    attempt = null;
    failures = 0;
    live = new Live<>(Current.of(connection), made, from.timer());
    changed.run();
  }

  @Override
  public void failed(Attempt<A, C> from, ConnectAttemptException error) {
    if (from == attempt) {
      parts.log.warn("a standby attempt failed; the current connection is not affected", error);
      leftNone();
    }
  }

  /** Whether {@code connection} was the live standby; if so, it is gone and a new attempt comes. */
  boolean dropped(C connection) {
    Live<A, C> now = live;
    if (now == null || now.current().connection() != connection) {
      return false;
    }
    live = null;
    changed.run();
    leftNone();
    return true;
  }

  /** The live standby's address, if there is one. */
  @Nullable A liveAddress() {
    Live<A, C> now = live;
    return now == null ? null : now.address();
  }

  /** {@link #take()}, if the live standby's address is {@code address} and it is open. */
  @Nullable Live<A, C> takeIfAt(A address) {
    Live<A, C> now = live;
    return now != null
            && parts.tally.sameAddress(address, now.address())
            && !parts.closer.isClosed(now.current().connection())
        ? take()
        : null;
  }

  /** Whether the live standby, or the attempt in flight, is at {@code address}. */
  boolean isAt(A address) {
    Live<A, C> now = live;
    A at = now != null ? now.address() : this.address;
    return at != null && parts.tally.sameAddress(address, at);
  }

  /**
   * Hands the live standby, if there is one and it is not closed, to the loop, which then owns
   * it; stops this standby either way.
   */
  @Nullable Live<A, C> take() {
    Live<A, C> taken = live;
    live = null;
    if (taken != null && taken.timer() == timer) {
      timer = null; // it goes with the connection: stop() must not cancel it
    }
    stop();
    if (taken != null && parts.closer.isClosed(taken.current().connection())) {
      taken.timer().cancel();
      parts.closer.closeUnpublished(taken.current().connection()); // waited for, like any other
      return null;
    }
    return taken;
  }

  /** Stops: cancels the token wait, the timer and the attempt, and closes a live standby. */
  @Override
  void stop() {
    super.stop();
    if (timer != null) {
      timer.cancel();
    }
    if (attempt != null) {
      attempt.cancel();
    }
    Live<A, C> now = live;
    live = null;
    if (now != null) {
      parts.closer.closeUnpublished(now.current().connection());
    }
  }
}
