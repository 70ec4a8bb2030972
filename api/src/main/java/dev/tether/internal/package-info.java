/** Implementation details shared by Tether's modules. Not part of the public API. */
@NullMarked
package dev.tether.internal;

import org.jspecify.annotations.NullMarked;
