package dev.tether.grpc;

import static com.google.common.base.Preconditions.checkArgument;
import static com.google.common.util.concurrent.MoreExecutors.directExecutor;
import static java.util.Objects.requireNonNull;

import com.google.common.util.concurrent.Futures;
import com.google.common.util.concurrent.ListenableFuture;
import dev.tether.ConnectionInitializer;
import dev.tether.internal.Durations;
import io.grpc.CallOptions;
import io.grpc.ClientCall;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.stub.ClientCalls;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

/**
 * Initializers that check a new connection's server with the standard gRPC health service
 * ({@code grpc.health.v1.Health}, as {@code grpc-services}' {@code HealthStatusManager} serves
 * it) before the connection is published.
 *
 * <pre>{@code
 * PersistentConnection<HostAndPort, GrpcConnection<HostAndPort>> orders =
 *     GrpcConnector.persistentConnection("orders", ChannelFactory.plaintext())
 *         .addressLookup(() -> catalog.find("orders"))
 *         .initializer(GrpcHealth.check("orders.Orders", Duration.ofSeconds(2)))
 *         .build();
 * }</pre>
 *
 * <p>A replica that is up but not yet serving (warming its caches, draining before a restart)
 * then fails the attempt, and the next attempt looks the address up again: with redundant
 * replicas in a catalog, the client moves to one that serves. The same check prepares handover
 * and standby connections (DESIGN 7.4).
 */
public final class GrpcHealth {
  private GrpcHealth() {}

  /**
   * Returns an initializer that makes one {@code grpc.health.v1.Health/Check} call for {@code
   * service} on the new connection's {@linkplain GrpcConnection#channel() channel} (through the
   * connector's interceptors, so that a server which wants credentials gets them), with a
   * deadline of {@code timeout}. The attempt succeeds only if the answer is {@code SERVING}.
   * Anything else fails it, with a message that names the service and what came back: the
   * serving status ({@code NOT_SERVING}, {@code UNKNOWN}, {@code SERVICE_UNKNOWN}), or the call's
   * status ({@code UNIMPLEMENTED} from a server without the health service, {@code NOT_FOUND} for
   * a service it does not know, {@code DEADLINE_EXCEEDED} when no answer came within the
   * timeout). The persistent connection reports it as a {@code ConnectAttemptException} of stage
   * {@code INITIALIZE} whose cause is an {@link IllegalStateException} with that message.
   *
   * <p>The call is fail-fast: the connection is READY when the initializer runs. Closing the
   * persistent connection while the check is in flight cancels the call. The check is made once
   * per new connection; it does not watch the service afterwards.
   *
   * @param service the service name to ask about; {@code ""} asks about the server as a whole
   * @param timeout how long to wait for the answer; positive
   * @throws NullPointerException if an argument is null, naming it
   * @throws IllegalArgumentException if {@code timeout} is zero or negative
   */
  public static <A> ConnectionInitializer<GrpcConnection<A>> check(
      String service, Duration timeout) {
    requireNonNull(service, "service");
    requireNonNull(timeout, "timeout");
    checkArgument(
        !timeout.isNegative() && !timeout.isZero(), "timeout must be positive, was %s", timeout);
    long nanos = Durations.saturatedNanos(timeout);
    HealthCheckRequest request = HealthCheckRequest.newBuilder().setService(service).build();
    String named = service.isEmpty() ? "the server as a whole (\"\")" : "service \"" + service + "\"";
    return new ConnectionInitializer<>() {
      @Override
      public ListenableFuture<?> initialize(GrpcConnection<A> connection) {
        ClientCall<HealthCheckRequest, HealthCheckResponse> call =
            connection
                .channel()
                .newCall(
                    HealthGrpc.getCheckMethod(),
                    CallOptions.DEFAULT.withDeadlineAfter(nanos, TimeUnit.NANOSECONDS));
        ListenableFuture<HealthCheckResponse> answer = ClientCalls.futureUnaryCall(call, request);
        ListenableFuture<HealthCheckResponse> checked =
            Futures.catching(
                answer,
                StatusRuntimeException.class,
                e -> {
                  Status status = e.getStatus();
                  throw new IllegalStateException(
                      "health check of " + named + " on " + connection.address()
                          + " failed: " + status.getCode()
                          + (status.getDescription() == null ? "" : " (" + status.getDescription() + ")"),
                      e);
                },
                directExecutor());
        ListenableFuture<HealthCheckResponse> serving =
            Futures.transform(
                checked,
                response -> {
                  HealthCheckResponse.ServingStatus status = response.getStatus();
                  if (status != HealthCheckResponse.ServingStatus.SERVING) {
                    throw new IllegalStateException(
                        "health check of " + named + " on " + connection.address()
                            + " answered " + status + ", not SERVING");
                  }
                  return response;
                },
                directExecutor());
        // gRPC's future cancels its call only on cancel(true), and the cancel that reaches it
        // from this future may not be that: cancel the call itself.
        serving.addListener(
            () -> {
              if (serving.isCancelled()) {
                call.cancel("the health check was cancelled", null);
              }
            },
            directExecutor());
        return serving;
      }

      @Override
      public String toString() {
        return "GrpcHealth.check(" + named + ", " + timeout + ")";
      }
    };
  }
}
