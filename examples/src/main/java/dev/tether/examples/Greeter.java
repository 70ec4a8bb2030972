package dev.tether.examples;

import io.grpc.MethodDescriptor;
import io.grpc.ServerServiceDefinition;
import io.grpc.stub.ServerCalls;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;

/**
 * The examples' service, without generated code: {@code demo.Greeter/Hello} answers with the name
 * of the replica that served it.
 */
public final class Greeter {
  private Greeter() {}

  private enum Utf8 implements MethodDescriptor.Marshaller<String> {
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

  /** The one method: a unary call whose answer is the serving replica's name. */
  public static final MethodDescriptor<String, String> HELLO =
      MethodDescriptor.<String, String>newBuilder()
          .setType(MethodDescriptor.MethodType.UNARY)
          .setFullMethodName("demo.Greeter/Hello")
          .setRequestMarshaller(Utf8.INSTANCE)
          .setResponseMarshaller(Utf8.INSTANCE)
          .build();

  /** The service of the replica called {@code name}. */
  public static ServerServiceDefinition service(String name) {
    return ServerServiceDefinition.builder("demo.Greeter")
        .addMethod(
            HELLO,
            ServerCalls.asyncUnaryCall(
                (request, response) -> {
                  response.onNext(name);
                  response.onCompleted();
                }))
        .build();
  }
}
