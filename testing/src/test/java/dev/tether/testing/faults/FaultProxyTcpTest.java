package dev.tether.testing.faults;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.nio.charset.StandardCharsets;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** Plain TCP through the proxy: bytes intact, a half-close passed on, a reset passed on. */
class FaultProxyTcpTest {
  @RegisterExtension final FaultProxy proxy = FaultProxy.create();

  @Test
  void bytesArriveIntact_throughAFreezeAndLatency_andAHalfCloseGoesThrough() throws Exception {
    byte[] sent = new byte[200_000];
    new Random(7).nextBytes(sent);
    try (ServerSocket server = new ServerSocket(0, 5, InetAddress.getByAddress(new byte[] {127, 0, 0, 1}))) {
      proxy.target(server.getLocalPort());
      // The server reads to the end of the stream, then answers with what it read and closes.
      CompletableFuture<byte[]> received = new CompletableFuture<>();
      Thread serving = new Thread(() -> {
        try (Socket s = server.accept()) {
          byte[] all = s.getInputStream().readAllBytes();
          received.complete(all);
          s.getOutputStream().write(("read " + all.length).getBytes(StandardCharsets.UTF_8));
        } catch (IOException e) {
          received.completeExceptionally(e);
        }
      });
      serving.start();
      try (Socket client = new Socket()) {
        client.connect(new InetSocketAddress(InetAddress.getByAddress(new byte[] {127, 0, 0, 1}), proxy.port()), 5000);
        client.setSoTimeout(10_000);
        proxy.latency(java.time.Duration.ofMillis(20));
        client.getOutputStream().write(sent, 0, 100_000);
        proxy.freeze();
        proxy.thaw();
        client.getOutputStream().write(sent, 100_000, 100_000);
        client.shutdownOutput(); // half-closed: the answer must still come back
        byte[] answer = client.getInputStream().readAllBytes();
        assertEquals("read 200000", new String(answer, StandardCharsets.UTF_8));
      }
      assertArrayEquals(sent, received.get(10, TimeUnit.SECONDS));
      serving.join(10_000);
    }
  }

  @Test
  void aClientThatDoesNotRead_holdsTheServerBack_andThenGetsEveryByte() throws Exception {
    int total = 64 << 20; // far more than the socket buffers of both hops and the proxy hold
    try (ServerSocket server = new ServerSocket(0, 5, InetAddress.getByAddress(new byte[] {127, 0, 0, 1}))) {
      proxy.target(server.getLocalPort());
      CompletableFuture<Integer> written = new CompletableFuture<>();
      Thread writing = new Thread(() -> {
        try (Socket s = server.accept()) {
          s.setSendBufferSize(64 * 1024); // what the ends buffer stays small: the proxy's part shows
          byte[] chunk = new byte[64 * 1024];
          for (int sent = 0; sent < total; sent += chunk.length) {
            s.getOutputStream().write(chunk);
          }
          s.shutdownOutput();
          written.complete(total);
          s.getInputStream().read(); // until the client closes
        } catch (IOException e) {
          written.completeExceptionally(e);
        }
      });
      writing.start();
      try (Socket client = new Socket()) {
        client.setReceiveBufferSize(64 * 1024); // before connecting, so that it holds
        client.connect(new InetSocketAddress(InetAddress.getByAddress(new byte[] {127, 0, 0, 1}), proxy.port()), 5000);
        client.setSoTimeout(10_000);
        assertThrows(
            java.util.concurrent.TimeoutException.class,
            () -> written.get(2, TimeUnit.SECONDS),
            "the server wrote 64 MiB to a client that read nothing: the proxy took it all");

        long read = 0;
        byte[] buffer = new byte[64 * 1024];
        InputStream in = client.getInputStream();
        for (int n; (n = in.read(buffer)) >= 0; ) {
          read += n;
        }
        assertEquals(total, read);
        assertEquals(total, written.get(10, TimeUnit.SECONDS));
      }
      writing.join(10_000);
    }
  }

  @Test
  void closingTheProxy_resetsItsConnections_ratherThanEndingThemInOrder() throws Exception {
    try (ServerSocket server = new ServerSocket(0, 5, InetAddress.getByAddress(new byte[] {127, 0, 0, 1}))) {
      proxy.target(server.getLocalPort());
      CompletableFuture<Socket> accepted = new CompletableFuture<>();
      Thread accepting = new Thread(() -> {
        try {
          accepted.complete(server.accept());
        } catch (IOException e) {
          accepted.completeExceptionally(e);
        }
      });
      accepting.start();
      try (Socket client = new Socket()) {
        client.connect(new InetSocketAddress(InetAddress.getByAddress(new byte[] {127, 0, 0, 1}), proxy.port()), 5000);
        client.setSoTimeout(10_000);
        try (Socket served = accepted.get(10, TimeUnit.SECONDS)) {
          served.setSoTimeout(10_000);
          proxy.close();
          SocketException clientSide = assertThrows(SocketException.class, () -> client.getInputStream().read());
          assertTrue(String.valueOf(clientSide.getMessage()).startsWith("Connection reset"), clientSide::getMessage);
          SocketException serverSide = assertThrows(SocketException.class, () -> served.getInputStream().read());
          assertTrue(String.valueOf(serverSide.getMessage()).startsWith("Connection reset"), serverSide::getMessage);
        }
      }
      accepting.join(10_000);
    }
  }

  @Test
  void aResetFromTheServer_resetsTheClient() throws Exception {
    try (ServerSocket server = new ServerSocket(0, 5, InetAddress.getByAddress(new byte[] {127, 0, 0, 1}))) {
      proxy.target(server.getLocalPort());
      // The server resets only once the client's connect has returned: a reset that reaches the
      // client during its connect fails the connect itself, which is not what this test is about.
      java.util.concurrent.CountDownLatch connected = new java.util.concurrent.CountDownLatch(1);
      Thread resetting = new Thread(() -> {
        try {
          Socket s = server.accept();
          if (!connected.await(10, TimeUnit.SECONDS)) {
            return; // the client failed to connect: the test fails there
          }
          s.setSoLinger(true, 0);
          s.close(); // RST
        } catch (IOException | InterruptedException ignored) {
          // the test fails on the client side
        }
      });
      resetting.start();
      try (Socket client = new Socket()) {
        client.connect(new InetSocketAddress(InetAddress.getByAddress(new byte[] {127, 0, 0, 1}), proxy.port()), 5000);
        connected.countDown();
        client.setSoTimeout(10_000);
        InputStream in = client.getInputStream();
        SocketException reset = assertThrows(SocketException.class, in::read);
        assertTrue(String.valueOf(reset.getMessage()).startsWith("Connection reset"), reset::getMessage);
      }
      resetting.join(10_000);
    }
  }
}
