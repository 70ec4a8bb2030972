package dev.tether.grpc;

import io.grpc.ClientCall;
import io.grpc.Metadata;
import io.grpc.Status;
import java.util.concurrent.Executor;
import org.jspecify.annotations.Nullable;

/** A call that fails with a fixed status once started: on its executor, never inside start(). */
final class FailingCall<ReqT, RespT> extends ClientCall<ReqT, RespT> {
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

  @Override
  public void request(int numMessages) {}

  @Override
  public void cancel(@Nullable String message, @Nullable Throwable cause) {}

  @Override
  public void halfClose() {}

  @Override
  public void sendMessage(ReqT message) {}
}
