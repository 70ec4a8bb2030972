/** Placeholder: this module is filled by a later change. */
@NullMarked
package dev.tether.guice;

import org.jspecify.annotations.NullMarked;
