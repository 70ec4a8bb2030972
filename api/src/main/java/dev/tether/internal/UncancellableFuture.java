package dev.tether.internal;

import com.google.common.util.concurrent.AbstractFuture;
import com.google.common.util.concurrent.ListenableFuture;
import org.jspecify.annotations.Nullable;

/**
 * A settable future that ignores {@code cancel()}: for futures shared by every caller, such as
 * {@code closeFinished()}, which no caller may complete on the others' behalf. Not part of the
 * public API.
 */
public final class UncancellableFuture<V> extends AbstractFuture<V> {

  /** Creates a pending future. */
  public UncancellableFuture() {}

  /**
   * Does nothing and returns {@code false}: this future completes only through {@link #set},
   * {@link #setException} or {@link #setFuture}.
   */
  @Override
  public boolean cancel(boolean mayInterruptIfRunning) {
    return false;
  }

  @Override
  public boolean set(@Nullable V value) {
    return super.set(value);
  }

  @Override
  public boolean setException(Throwable error) {
    return super.setException(error);
  }

  /** Completes this future as {@code future} completes; cancelling this one never reaches it. */
  @Override
  public boolean setFuture(ListenableFuture<? extends V> future) {
    return super.setFuture(future);
  }
}
