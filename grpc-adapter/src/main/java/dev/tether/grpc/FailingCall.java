package dev.tether.grpc;

import io.grpc.Metadata;
import io.grpc.Status;
import java.util.concurrent.Executor;

/** A call that fails with a fixed status once started: on its executor, never inside start(). */
final class FailingCall<ReqT, RespT> extends NoopCall<ReqT, RespT> {
  private final Status status;
  private final Executor executor;

  FailingCall(Status status, Executor executor) {
    this.status = status;
    this.executor = executor;
  }

  @Override
  public void start(Listener<RespT> listener, Metadata headers) {
    Calls.execute(executor, () -> listener.onClose(status, new Metadata()));
  }
}
