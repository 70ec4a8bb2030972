/** Placeholder: this module is filled by a later change. */
@NullMarked
package dev.tether.benchmarks;

import org.jspecify.annotations.NullMarked;
