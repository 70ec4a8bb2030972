/** Build-only support for the test suites of Tether's modules. Not published. */
@NullMarked
package dev.tether.testsupport;

import org.jspecify.annotations.NullMarked;
