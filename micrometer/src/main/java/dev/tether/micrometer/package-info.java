/** Micrometer meters for persistent connections: {@link dev.tether.micrometer.TetherMetrics}. */
@NullMarked
package dev.tether.micrometer;

import org.jspecify.annotations.NullMarked;
