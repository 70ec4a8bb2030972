/**
 * Keeps a gRPC client connected: a {@link dev.tether.Connector} that builds a fresh {@link
 * io.grpc.ManagedChannel} per attempt, a {@link dev.tether.grpc.GrpcConnection} that closes itself
 * when its channel leaves READY, and a {@link dev.tether.grpc.PersistentChannel} that follows the
 * persistent connection so stubs are built once.
 *
 * <pre>{@code
 * PersistentConnection<HostAndPort, GrpcConnection<HostAndPort>> orders =
 *     GrpcConnector.persistentConnection("orders", ChannelFactory.plaintext())
 *         .addressLookup(() -> catalog.find("orders"))
 *         .build();
 * OrdersGrpc.OrdersBlockingStub stub = OrdersGrpc.newBlockingStub(PersistentChannel.of(orders));
 * }</pre>
 */
@NullMarked
package dev.tether.grpc;

import org.jspecify.annotations.NullMarked;
