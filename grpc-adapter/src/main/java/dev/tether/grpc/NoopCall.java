package dev.tether.grpc;

import io.grpc.ClientCall;
import io.grpc.Metadata;
import org.jspecify.annotations.Nullable;

/** A call that does nothing: what a delayed call forwards to once it failed before a real call. */
final class NoopCall extends ClientCall<Object, Object> {
  private static final NoopCall INSTANCE = new NoopCall();

  private NoopCall() {}

  @SuppressWarnings("unchecked") // it never touches a message
  static <ReqT, RespT> ClientCall<ReqT, RespT> get() {
    return (ClientCall<ReqT, RespT>) (ClientCall<?, ?>) INSTANCE;
  }

  @Override
  public void start(Listener<Object> listener, Metadata headers) {}

  @Override
  public void request(int numMessages) {}

  @Override
  public void cancel(@Nullable String message, @Nullable Throwable cause) {}

  @Override
  public void halfClose() {}

  @Override
  public void sendMessage(Object message) {}
}
