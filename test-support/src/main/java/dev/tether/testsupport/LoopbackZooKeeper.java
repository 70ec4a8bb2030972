package dev.tether.testsupport;

import java.util.List;
import org.apache.curator.test.InstanceSpec;
import org.apache.curator.test.TestingServer;

/**
 * ZooKeeper test servers on loopback ports that nothing else takes. A module that uses it has
 * curator-test among its own test dependencies (it is optional here).
 */
public final class LoopbackZooKeeper {
  private LoopbackZooKeeper() {}

  /** A started ZooKeeper test server on 127.0.0.1 (see {@link #specs}); close it when done. */
  public static TestingServer server() throws Exception {
    return new TestingServer(specs(1).get(0), true);
  }

  /**
   * The specs of {@code size} ZooKeeper servers (one, or an ensemble) on 127.0.0.1, with three
   * distinct ports each, taken below Linux's ephemeral range ({@link LoopbackPorts}). Curator's
   * own choice (a port the OS gave a socket it then closed, one port at a time) can give two
   * members the same port, or a
   * port in the ephemeral range that an outgoing connection takes meanwhile (a client that
   * reconnects to a stopped server's port can even connect to itself there); ZooKeeper then fails
   * to bind, and ends the JVM.
   */
  public static List<InstanceSpec> specs(int size) throws java.io.IOException {
    List<Integer> ports = LoopbackPorts.free(size * 3);
    List<InstanceSpec> specs = new java.util.ArrayList<>();
    for (int i = 0; i < size; i++) {
      specs.add(
          new InstanceSpec(
              null,
              ports.get(3 * i),
              ports.get(3 * i + 1),
              ports.get(3 * i + 2),
              true,
              -1,
              -1,
              -1,
              // Loopback only: ZooKeeper listens on every interface unless told otherwise.
              java.util.Map.of("clientPortAddress", "127.0.0.1"),
              "127.0.0.1"));
    }
    return specs;
  }
}
