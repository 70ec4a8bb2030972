package dev.tether.testsupport;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * Free loopback ports below Linux's ephemeral range, for test servers that are stopped and started
 * again on the same port. A port the OS picks (port 0) lies in the ephemeral range, where an
 * outgoing connection may take it while its server is down; a client that keeps reconnecting to
 * it can even connect to itself there (TCP's simultaneous open). The server's restart then fails
 * to bind. Below that range only listening sockets take ports, and each is checked free here.
 */
public final class LoopbackPorts {
  private static final Random RANDOM = new Random();

  private LoopbackPorts() {}

  /** A port free on 127.0.0.1 at the moment (a caller that then fails to bind takes another). */
  public static int free() throws IOException {
    return free(1).get(0);
  }

  /** {@code count} distinct ports, each free on 127.0.0.1 at the moment. */
  public static List<Integer> free(int count) throws IOException {
    InetAddress loopback = InetAddress.getByAddress(new byte[] {127, 0, 0, 1});
    int below = Math.min(32_768, firstEphemeralPort());
    int from = below - 12_000;
    if (from < 1_024) { // a machine whose ephemeral range starts low: no port is outside it
      from = 20_000;
      below = 32_000;
    }
    List<ServerSocket> held = new ArrayList<>();
    try {
      for (int tries = 0; held.size() < count; tries++) {
        int port = from + RANDOM.nextInt(below - from); // Random is thread-safe
        try {
          held.add(new ServerSocket(port, 1, loopback));
        } catch (IOException inUse) {
          if (tries > 1_000) {
            throw inUse; // not a port in use, then: say why
          }
        }
      }
      List<Integer> ports = new ArrayList<>();
      for (ServerSocket socket : held) {
        ports.add(socket.getLocalPort());
      }
      return ports;
    } finally {
      for (ServerSocket socket : held) {
        socket.close();
      }
    }
  }

  /** The first port of this machine's ephemeral range; Linux's default if it cannot be read. */
  private static int firstEphemeralPort() {
    try {
      String range =
          java.nio.file.Files.readString(
              java.nio.file.Path.of("/proc/sys/net/ipv4/ip_local_port_range"));
      return Integer.parseInt(range.trim().split("\\s+")[0]);
    } catch (IOException | RuntimeException e) {
      return 32_768;
    }
  }
}
