/** Placeholder: this module is filled by a later change. */
@NullMarked
package dev.tether.grpc;

import org.jspecify.annotations.NullMarked;
