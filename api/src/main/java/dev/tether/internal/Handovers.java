package dev.tether.internal;

/**
 * Implemented by Tether's persistent connections, so that the gRPC channel that follows one can
 * tell when the current connection is about to be replaced on purpose. Not part of the public API.
 */
public interface Handovers {
  /**
   * Returns whether a handover was asked for and has not ended: the current connection may be
   * replaced at any moment, and its server may go away soon after. Any thread; a volatile read.
   */
  boolean handoverInFlight();
}
