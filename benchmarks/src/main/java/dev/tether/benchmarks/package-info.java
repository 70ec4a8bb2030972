/**
 * Benchmarks of Tether against plain grpc-java: failover, recovery after an outage, the hot path
 * (JMH, and the throughput ratio measured interleaved in one JVM) and scale. Run with {@link
 * dev.tether.benchmarks.Bench}; see docs/benchmarks.md.
 */
@NullMarked
package dev.tether.benchmarks;

import org.jspecify.annotations.NullMarked;
