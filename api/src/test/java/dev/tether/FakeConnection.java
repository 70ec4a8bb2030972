package dev.tether;

import com.google.common.util.concurrent.ListenableFuture;
import com.google.common.util.concurrent.SettableFuture;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A connection for tests. {@link #drop()} plays the other side going away: the connection closes
 * itself. {@link #close()} finishes at once unless the connection was made with {@link
 * #slowToClose}, in which case the test finishes it with {@link #finishClosing()}.
 */
class FakeConnection implements Closable {
  private final String name;
  private final boolean slowToClose;
  private final AtomicBoolean closed = new AtomicBoolean();
  private final AtomicInteger closeCalls = new AtomicInteger();
  private final SettableFuture<Void> closeFinished = SettableFuture.create();

  /** A connection whose close() throws. */
  static final class Broken extends FakeConnection {
    private final RuntimeException error;

    Broken(String name, RuntimeException error) {
      super(name, false);
      this.error = error;
    }

    @Override
    public ListenableFuture<Void> close() {
      throw error;
    }
  }

  /**
   * A connection that a handover retires ({@link dev.tether.internal.Retirable}): closed at once,
   * its close finishing when the test says, or at once on a {@link #close()}.
   */
  static final class Retiring extends FakeConnection implements dev.tether.internal.Retirable {
    private final AtomicInteger retireCalls = new AtomicInteger();

    Retiring(String name) {
      super(name, true);
    }

    int retireCalls() {
      return retireCalls.get();
    }

    @Override
    public ListenableFuture<Void> retire() {
      retireCalls.incrementAndGet();
      ((FakeConnection) this).closed.set(true);
      return closeFinished();
    }

    @Override
    public ListenableFuture<Void> close() {
      ListenableFuture<Void> closing = super.close();
      finishClosing();
      return closing;
    }
  }

  private FakeConnection(String name, boolean slowToClose) {
    this.name = name;
    this.slowToClose = slowToClose;
  }

  static FakeConnection named(String name) {
    return new FakeConnection(name, false);
  }

  static FakeConnection slowToClose(String name) {
    return new FakeConnection(name, true);
  }

  /** The peer went away: the connection closes itself, as a real one would. */
  void drop() {
    closed.set(true);
    closeFinished.set(null);
  }

  void finishClosing() {
    closeFinished.set(null);
  }

  int closeCalls() {
    return closeCalls.get();
  }

  @Override
  public ListenableFuture<Void> close() {
    closeCalls.incrementAndGet();
    closed.set(true);
    if (!slowToClose) {
      closeFinished.set(null);
    }
    return closeFinished;
  }

  @Override
  public boolean isClosed() {
    return closed.get();
  }

  @Override
  public ListenableFuture<Void> closeFinished() {
    return closeFinished;
  }

  @Override
  public String toString() {
    return name;
  }
}
