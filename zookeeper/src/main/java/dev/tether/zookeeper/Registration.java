package dev.tether.zookeeper;

/**
 * A replica's place in a {@link ZooKeeperCatalog}, from {@link ZooKeeperCatalog#register}. While
 * it is open the replica is listed (as an ephemeral node, put back whenever the ZooKeeper session
 * is renewed after a loss); {@link #close()} takes it out of the catalog.
 */
public interface Registration extends AutoCloseable {
  /**
   * Leaves the catalog: the replica's instance is deleted, on the calling thread (a ZooKeeper
   * round trip; Curator retries it in the background if ZooKeeper is away). Idempotent.
   */
  @Override
  void close();
}
