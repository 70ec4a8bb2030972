/**
 * Named persistent gRPC connections in Guice: declare each connection once with {@link
 * dev.tether.guice.GrpcConnectionModule}, inject {@code @Named("orders") Channel} anywhere, and
 * close everything through {@link dev.tether.guice.ConnectionRegistry}.
 */
@NullMarked
package dev.tether.guice;

import org.jspecify.annotations.NullMarked;
