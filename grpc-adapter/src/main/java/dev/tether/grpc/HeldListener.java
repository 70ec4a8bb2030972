package dev.tether.grpc;

import static java.util.Objects.requireNonNull;

import io.grpc.ClientCall.Listener;
import io.grpc.Metadata;
import io.grpc.Status;
import java.util.ArrayList;
import java.util.List;
import org.jspecify.annotations.Nullable;

/** Holds the real call's callbacks until the queued operations have run, then passes through. */
final class HeldListener<RespT> extends Listener<RespT> {
  private final Listener<RespT> listener;
  private volatile boolean released;
  private @Nullable List<Runnable> callbacks = new ArrayList<>(); // guarded by this

  HeldListener(Listener<RespT> listener) {
    this.listener = listener;
  }

  private void holdOrRun(Runnable callback) {
    synchronized (this) {
      List<Runnable> queue = callbacks;
      if (queue != null) {
        queue.add(callback);
        return;
      }
    }
    callback.run();
  }

  /** Delivers the held callbacks in order until none are left; from then on passes through. */
  void release() {
    List<Runnable> batch = new ArrayList<>();
    while (true) {
      synchronized (this) {
        List<Runnable> queue = requireNonNull(callbacks);
        if (queue.isEmpty()) {
          callbacks = null;
          released = true;
          return;
        }
        callbacks = batch;
        batch = queue;
      }
      for (Runnable callback : batch) {
        callback.run();
      }
      batch.clear();
    }
  }

  @Override
  public void onHeaders(Metadata headers) {
    if (released) {
      listener.onHeaders(headers);
    } else {
      holdOrRun(() -> listener.onHeaders(headers));
    }
  }

  @Override
  public void onMessage(RespT message) {
    if (released) {
      listener.onMessage(message);
    } else {
      holdOrRun(() -> listener.onMessage(message));
    }
  }

  @Override
  public void onReady() {
    if (released) {
      listener.onReady();
    } else {
      holdOrRun(listener::onReady);
    }
  }

  @Override
  public void onClose(Status status, Metadata trailers) {
    holdOrRun(() -> listener.onClose(status, trailers));
  }
}
