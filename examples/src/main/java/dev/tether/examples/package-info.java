/** Placeholder: this module is filled by a later change. */
@NullMarked
package dev.tether.examples;

import org.jspecify.annotations.NullMarked;
