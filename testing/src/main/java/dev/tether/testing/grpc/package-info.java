/**
 * Test helpers for code that keeps gRPC connections with Tether: {@link
 * dev.tether.testing.grpc.InProcessServers}, a JUnit 5 extension whose in-process servers a test
 * can stop, kill, restart and make refuse connections.
 */
@NullMarked
package dev.tether.testing.grpc;

import org.jspecify.annotations.NullMarked;
