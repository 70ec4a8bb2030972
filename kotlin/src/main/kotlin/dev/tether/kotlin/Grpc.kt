@file:JvmName("TetherGrpcKotlin")

package dev.tether.kotlin

import dev.tether.PersistentConnection
import dev.tether.grpc.ChannelFactory
import dev.tether.grpc.GrpcConnection
import dev.tether.grpc.GrpcConnector

/**
 * Builds a persistent connection whose connections are gRPC channels made by [channels], through
 * [GrpcConnector] with its default options (on the spec's [PersistentConnectionSpec.scheduler], if
 * set), and starts connecting:
 * ```
 * val greeter = grpcPersistentConnection("greeter", ChannelFactory.plaintext()) {
 *   lookup(catalog.lookup("greeter")) // a ZooKeeperCatalog's lookup; or lookup { } (suspend)
 *   retryDelay = 1.seconds
 * }
 * val stub = GreeterGrpcKt.GreeterCoroutineStub(PersistentChannel.of(greeter))
 * ```
 *
 * The block may replace the connector once (with [PersistentConnectionSpec.connector], for a
 * [GrpcConnector] with other options, say); everything else is as in [persistentConnection].
 * Needs `tether-grpc` on the classpath.
 *
 * @throws IllegalStateException if [PersistentConnectionSpec.lookup] was not set
 */
public fun <A : Any> grpcPersistentConnection(
  serverName: String,
  channels: ChannelFactory<A>,
  configure: PersistentConnectionSpec<A, GrpcConnection<A>>.() -> Unit,
): PersistentConnection<A, GrpcConnection<A>> {
  val spec = PersistentConnectionSpec<A, GrpcConnection<A>>(serverName)
  spec.defaultConnector { scheduler ->
    val connector = GrpcConnector.builder(channels)
    scheduler?.let { connector.scheduler(it) } // its connect timeout and shutdown grace too
    connector.build()
  }
  return spec.apply(configure).build()
}
