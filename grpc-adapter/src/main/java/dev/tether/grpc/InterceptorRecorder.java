package dev.tether.grpc;

import static java.util.Objects.requireNonNull;

import com.google.common.collect.ImmutableList;
import io.grpc.ClientInterceptor;
import io.grpc.ForwardingChannelBuilder2;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import java.util.Arrays;
import java.util.List;

/**
 * The builder that {@link GrpcConnector}'s customizers see: it forwards every setting to the
 * factory's builder, except {@code intercept(...)}, which it records instead, so that the channel
 * is built without the interceptors. The connector probes the raw channel and hands out an {@link
 * InterceptedChannel} that applies them. Customizers configure; only the connector builds, so
 * {@link #build()} throws.
 */
final class InterceptorRecorder extends ForwardingChannelBuilder2<InterceptorRecorder> {
  private final ManagedChannelBuilder<?> delegate;
  private final ImmutableList.Builder<ClientInterceptor> interceptors = ImmutableList.builder();

  InterceptorRecorder(ManagedChannelBuilder<?> delegate) {
    this.delegate = delegate;
  }

  @Override
  protected ManagedChannelBuilder<?> delegate() {
    return delegate;
  }

  @Override
  public InterceptorRecorder intercept(List<ClientInterceptor> interceptors) {
    for (ClientInterceptor interceptor : requireNonNull(interceptors, "interceptors")) {
      this.interceptors.add(requireNonNull(interceptor, "interceptor"));
    }
    return this;
  }

  @Override
  public InterceptorRecorder intercept(ClientInterceptor... interceptors) {
    return intercept(Arrays.asList(requireNonNull(interceptors, "interceptors")));
  }

  /** Throws: a customizer must not build a channel of its own. */
  @Override
  public ManagedChannel build() {
    throw new UnsupportedOperationException(
        "a GrpcConnector customizer configures the builder; the connector builds the channel");
  }

  /** Returns the interceptors recorded so far, in the order they were added. */
  ImmutableList<ClientInterceptor> interceptors() {
    return interceptors.build();
  }
}
