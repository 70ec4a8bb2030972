package dev.tether.grpc;

import com.google.common.collect.ImmutableList;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.ClientInterceptor;
import io.grpc.ClientInterceptors;
import io.grpc.ManagedChannel;
import io.grpc.MethodDescriptor;

/**
 * The channel that {@link GrpcConnection#channel()} returns when the connector's customizers added
 * interceptors: calls go through the interceptors, as if the builder had applied them (the last
 * added runs first); everything else, shutting down included, is the raw channel's.
 */
final class InterceptedChannel extends ForwardingManagedChannel {
  private final Channel intercepted;

  InterceptedChannel(ManagedChannel raw, ImmutableList<ClientInterceptor> interceptors) {
    super(raw);
    this.intercepted = ClientInterceptors.intercept(raw, interceptors);
  }

  @Override
  public <ReqT, RespT> ClientCall<ReqT, RespT> newCall(
      MethodDescriptor<ReqT, RespT> method, CallOptions options) {
    return intercepted.newCall(method, options);
  }

  @Override
  public String authority() {
    return intercepted.authority();
  }
}
