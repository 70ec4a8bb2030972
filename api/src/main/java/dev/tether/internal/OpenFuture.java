package dev.tether.internal;

import com.google.common.util.concurrent.AbstractFuture;
import com.google.common.util.concurrent.ListenableFuture;
import org.jspecify.annotations.Nullable;

/**
 * A future that its maker completes: Guava's {@code SettableFuture}, but open to subclasses that
 * change how it cancels or describes itself. Not part of the public API.
 */
public class OpenFuture<V> extends AbstractFuture<V> {

  /** Creates a pending future. */
  public OpenFuture() {}

  @Override
  public boolean set(@Nullable V value) {
    return super.set(value);
  }

  @Override
  public boolean setException(Throwable error) {
    return super.setException(error);
  }

  /** Completes this future as {@code future} completes. */
  @Override
  public boolean setFuture(ListenableFuture<? extends V> future) {
    return super.setFuture(future);
  }
}
