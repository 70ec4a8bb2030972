package dev.tether.internal;

/**
 * A settable future that ignores {@code cancel()}: for futures shared by every caller, such as
 * {@code closeFinished()}, which no caller may complete on the others' behalf. Not part of the
 * public API.
 */
public final class UncancellableFuture<V> extends OpenFuture<V> {

  /** Creates a pending future. */
  public UncancellableFuture() {}

  /**
   * Does nothing and returns {@code false}: this future completes only through {@link #set},
   * {@link #setException} or {@link #setFuture} (whose future a cancel here never reaches).
   */
  @Override
  public boolean cancel(boolean mayInterruptIfRunning) {
    return false;
  }
}
