package dev.tether.grpc;

import io.grpc.ClientCall;
import io.grpc.Metadata;
import org.jspecify.annotations.Nullable;

/**
 * A call that does nothing: what a delayed call forwards to once it failed before a real call,
 * and the base of {@link FailingCall}.
 */
class NoopCall<ReqT, RespT> extends ClientCall<ReqT, RespT> {
  private static final NoopCall<Object, Object> INSTANCE = new NoopCall<>();

  NoopCall() {}

  @SuppressWarnings("unchecked") // it never touches a message
  static <ReqT, RespT> ClientCall<ReqT, RespT> get() {
    return (ClientCall<ReqT, RespT>) (ClientCall<?, ?>) INSTANCE;
  }

  @Override
  public void start(Listener<RespT> listener, Metadata headers) {}

  @Override
  public void request(int numMessages) {}

  @Override
  public void cancel(@Nullable String message, @Nullable Throwable cause) {}

  @Override
  public void halfClose() {}

  @Override
  public void sendMessage(ReqT message) {}
}
