/** End-to-end tests of Tether with real gRPC servers. */
@NullMarked
package dev.tether.it;

import org.jspecify.annotations.NullMarked;
