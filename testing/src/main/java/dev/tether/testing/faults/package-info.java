/**
 * Faults on purpose, for tests: {@link dev.tether.testing.faults.FaultProxy}, a loopback TCP proxy
 * that freezes, resets, refuses and delays real connections; {@link
 * dev.tether.testing.faults.ScriptedLookup} and {@link dev.tether.testing.faults.ScriptedConnector},
 * which answer in a scripted sequence on a (virtual-time) scheduler and record what they were asked.
 */
@NullMarked
package dev.tether.testing.faults;

import org.jspecify.annotations.NullMarked;
