package dev.tether.grpc;

import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.MethodDescriptor;
import io.grpc.ServerServiceDefinition;
import io.grpc.stub.AbstractBlockingStub;
import io.grpc.stub.ClientCalls;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.ServerCalls;
import io.grpc.stub.StreamObserver;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;

/** A one-method service for tests: {@code Say} answers "<server id>: <request>". */
public final class Echo {
  private Echo() {}

  enum Utf8 implements MethodDescriptor.Marshaller<String> {
    INSTANCE;

    @Override
    public InputStream stream(String value) {
      return new ByteArrayInputStream(value.getBytes(StandardCharsets.UTF_8));
    }

    @Override
    public String parse(InputStream stream) {
      try {
        return new String(stream.readAllBytes(), StandardCharsets.UTF_8);
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
  }

  public static final MethodDescriptor<String, String> SAY =
      MethodDescriptor.<String, String>newBuilder()
          .setType(MethodDescriptor.MethodType.UNARY)
          .setFullMethodName("tether.test.Echo/Say")
          .setRequestMarshaller(Utf8.INSTANCE)
          .setResponseMarshaller(Utf8.INSTANCE)
          .build();

  /** A second method: answers only when the test completes {@link #gate}. */
  static final MethodDescriptor<String, String> SLOW =
      SAY.toBuilder().setFullMethodName("tether.test.Echo/Slow").build();

  /** Client streaming: answers "<server id>: n=<messages received>" after the half-close. */
  public static final MethodDescriptor<String, String> COLLECT =
      SAY.toBuilder()
          .setType(MethodDescriptor.MethodType.CLIENT_STREAMING)
          .setFullMethodName("tether.test.Echo/Collect")
          .build();

  /**
   * Server streaming: the request is a count n; answers "<server id>: i" for i in 0..n-1, sending
   * only while the stream is ready (server-side flow control).
   */
  public static final MethodDescriptor<String, String> REPEAT =
      SAY.toBuilder()
          .setType(MethodDescriptor.MethodType.SERVER_STREAMING)
          .setFullMethodName("tether.test.Echo/Repeat")
          .build();

  /** Bidirectional streaming: echoes every message as "<server id>: <message>". */
  public static final MethodDescriptor<String, String> CHAT =
      SAY.toBuilder()
          .setType(MethodDescriptor.MethodType.BIDI_STREAMING)
          .setFullMethodName("tether.test.Echo/Chat")
          .build();

  static volatile java.util.concurrent.CompletableFuture<Void> gate =
      new java.util.concurrent.CompletableFuture<>();

  public static ServerServiceDefinition service(String serverId) {
    return ServerServiceDefinition.builder("tether.test.Echo")
        .addMethod(
            SAY,
            ServerCalls.asyncUnaryCall(
                (request, response) -> {
                  response.onNext(serverId + ": " + request);
                  response.onCompleted();
                }))
        .addMethod(
            SLOW,
            ServerCalls.asyncUnaryCall(
                (request, response) ->
                    gate.thenRun(
                        () -> {
                          response.onNext(serverId + ": slow " + request);
                          response.onCompleted();
                        })))
        .addMethod(
            COLLECT,
            ServerCalls.asyncClientStreamingCall(
                response ->
                    new StreamObserver<String>() {
                      private int received;

                      @Override
                      public void onNext(String message) {
                        received++;
                      }

                      @Override
                      public void onError(Throwable t) {}

                      @Override
                      public void onCompleted() {
                        response.onNext(serverId + ": n=" + received);
                        response.onCompleted();
                      }
                    }))
        .addMethod(
            REPEAT,
            ServerCalls.asyncServerStreamingCall(
                (request, response) -> {
                  ServerCallStreamObserver<String> out = (ServerCallStreamObserver<String>) response;
                  int total = Integer.parseInt(request);
                  int[] sent = {0};
                  boolean[] completed = {false};
                  out.setOnReadyHandler(
                      () -> {
                        while (out.isReady() && sent[0] < total) {
                          out.onNext(serverId + ": " + sent[0]++);
                        }
                        if (sent[0] == total && !completed[0]) {
                          completed[0] = true;
                          out.onCompleted();
                        }
                      });
                }))
        .addMethod(
            CHAT,
            ServerCalls.asyncBidiStreamingCall(
                response ->
                    new StreamObserver<String>() {
                      @Override
                      public void onNext(String message) {
                        response.onNext(serverId + ": " + message);
                      }

                      @Override
                      public void onError(Throwable t) {}

                      @Override
                      public void onCompleted() {
                        response.onCompleted();
                      }
                    }))
        .build();
  }

  /** A blocking stub, built once like a generated one. */
  public static final class Stub extends AbstractBlockingStub<Stub> {
    public Stub(Channel channel) {
      super(channel, CallOptions.DEFAULT);
    }

    private Stub(Channel channel, CallOptions options) {
      super(channel, options);
    }

    @Override
    protected Stub build(Channel channel, CallOptions options) {
      return new Stub(channel, options);
    }

    public String say(String request) {
      return ClientCalls.blockingUnaryCall(getChannel(), SAY, getCallOptions(), request);
    }
  }
}
