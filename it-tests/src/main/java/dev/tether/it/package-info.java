/** Placeholder: this module is filled by a later change. */
@NullMarked
package dev.tether.it;

import org.jspecify.annotations.NullMarked;
