package dev.tether;

import org.jspecify.annotations.Nullable;

/**
 * Work a connected loop runs in the background, with no events: a {@link Standby} or a {@link
 * Handover}. Each of its attempts first waits for a budget token, unless the work was stopped
 * meanwhile. Confined to the serializing context.
 */
abstract class Background<A, C extends Closable> implements Attempt.Outcomes<A, C> {
  final LoopParts<A, C> parts;
  /** The attempt in flight, if any, and the address its lookup yielded. */
  @Nullable Attempt<A, C> attempt;
  @Nullable A address;
  private @Nullable RetryTimer token;
  private boolean stopped;

  Background(LoopParts<A, C> parts) {
    this.parts = parts;
  }

  /** Starts an attempt ({@link #begin()}) once its budget token is due. */
  final void start() {
    token = parts.waitForToken(this::tokenDue);
    if (token == null) {
      tokenDue();
    }
  }

  private void tokenDue() {
    token = null;
    if (!stopped && !parts.closeRequested()) {
      begin();
    }
  }

  /** Starts the attempt, its token due. */
  abstract void begin();

  /**
   * A connection from the attempt in flight, unless it is stale or this work stopped: then it is
   * closed.
   */
  @Override
  public final void ready(Attempt<A, C> from, C connection) {
    A made = address;
    if (from != attempt || made == null || stopped) {
      parts.closer.closeUnpublished(connection);
      return;
    }
    readyAt(from, connection, made);
  }

  /** The attempt in flight made {@code connection} to {@code made}: it now belongs to this work. */
  abstract void readyAt(Attempt<A, C> from, C connection, A made);

  /** Whether the token wait is over: no attempt is waiting for one. */
  final boolean tokenWaitOver() {
    return token == null;
  }

  final boolean stopped() {
    return stopped;
  }

  /** Stops starting attempts: cancels a token wait. */
  void stop() {
    stopped = true;
    RetryTimer waiting = token;
    token = null;
    if (waiting != null) {
      waiting.cancel();
    }
  }
}
