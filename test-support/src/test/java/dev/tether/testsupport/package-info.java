@NullMarked
package dev.tether.testsupport;

import org.jspecify.annotations.NullMarked;
