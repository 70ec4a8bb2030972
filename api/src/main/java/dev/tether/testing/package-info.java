/**
 * Helpers for testing code that uses Tether: a virtual-time {@link
 * java.util.concurrent.ScheduledExecutorService} that makes retry delays take no wall-clock time.
 */
@NullMarked
package dev.tether.testing;

import org.jspecify.annotations.NullMarked;
