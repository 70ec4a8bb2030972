/** The runnable failover demo: {@link dev.tether.examples.FailoverDemo}. */
@NullMarked
package dev.tether.examples;

import org.jspecify.annotations.NullMarked;
