package dev.tether.internal;

/**
 * Implemented by Tether's persistent connections, so that the gRPC channel that follows one can
 * tell when the current connection is about to be replaced on purpose. Not part of the public API.
 */
public interface Handovers {
  /**
   * Returns whether a handover was asked for and is not over: the current connection may be
   * replaced at any moment, and its server may go away soon after. It turns false only after the
   * switch to the new connection, so a caller that reads false and then the current connection
   * reads the new one. Any thread; a volatile read.
   */
  boolean handoverInFlight();
}
