package dev.tether.internal;

import com.google.common.util.concurrent.AbstractFuture;
import org.jspecify.annotations.Nullable;

/**
 * A settable future that ignores {@code cancel()}: for futures shared by every caller, such as
 * {@code closeFinished()}, which no caller may complete on the others' behalf. Not part of the
 * public API.
 */
public final class UncancellableFuture<V> extends AbstractFuture<V> {

  /** Creates a pending future. */
  public UncancellableFuture() {}

  /** Does nothing and returns {@code false}: this future completes only through {@link #set}. */
  @Override
  public boolean cancel(boolean mayInterruptIfRunning) {
    return false;
  }

  @Override
  public boolean set(@Nullable V value) {
    return super.set(value);
  }
}
