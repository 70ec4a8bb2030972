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
   * distinct ports each, taken below Linux's ephemeral range. Curator's own choice (a port the OS
   * gave a socket it then closed, one port at a time) can give two members the same port, or a
   * port in the ephemeral range that an outgoing connection takes meanwhile (a client that
   * reconnects to a stopped server's port can even connect to itself there); ZooKeeper then fails
   * to bind, and ends the JVM.
   */
  public static List<InstanceSpec> specs(int size) throws java.io.IOException {
    java.net.InetAddress loopback = java.net.InetAddress.getByAddress(new byte[] {127, 0, 0, 1});
    java.util.Random random = new java.util.Random();
    int below = Math.min(32_768, firstEphemeralPort());
    int from = below - 12_000;
    if (from < 1_024) { // a machine whose ephemeral range starts low: no port is outside it
      from = 20_000;
      below = 32_000;
    }
    List<java.net.ServerSocket> held = new java.util.ArrayList<>();
    try {
      for (int tries = 0; held.size() < size * 3; tries++) {
        try {
          held.add(new java.net.ServerSocket(from + random.nextInt(below - from), 1, loopback));
        } catch (java.io.IOException inUse) {
          if (tries > 1_000) {
            throw inUse; // not a port in use, then: say why
          }
        }
      }
      List<InstanceSpec> specs = new java.util.ArrayList<>();
      for (int i = 0; i < size; i++) {
        specs.add(
            new InstanceSpec(
                null,
                held.get(3 * i).getLocalPort(),
                held.get(3 * i + 1).getLocalPort(),
                held.get(3 * i + 2).getLocalPort(),
                true,
                -1,
                -1,
                -1,
                // Loopback only: ZooKeeper listens on every interface unless told otherwise.
                java.util.Map.of("clientPortAddress", "127.0.0.1"),
                "127.0.0.1"));
      }
      return specs;
    } finally {
      for (java.net.ServerSocket socket : held) {
        socket.close();
      }
    }
  }

  /** The first port of this machine's ephemeral range; Linux's default if it cannot be read. */
  private static int firstEphemeralPort() {
    try {
      String range =
          java.nio.file.Files.readString(java.nio.file.Path.of("/proc/sys/net/ipv4/ip_local_port_range"));
      return Integer.parseInt(range.trim().split("\\s+")[0]);
    } catch (java.io.IOException | RuntimeException e) {
      return 32_768;
    }
  }
}
