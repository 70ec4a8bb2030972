package dev.tether.it;

import dev.tether.grpc.Echo;
import io.grpc.InsecureServerCredentials;
import io.grpc.Server;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;

/**
 * An echo replica in a process of its own, for tests that kill it as a crash would: it serves on
 * 127.0.0.1, prints its port on one line, and runs until it is killed or its parent closes its
 * standard input (so that it never outlives the test). A line {@code drain} on its standard input
 * makes it leave as a planned stop does: a graceful shutdown (GOAWAY; calls in flight finish),
 * then exit.
 */
public final class ReplicaProcess {
  private ReplicaProcess() {}

  public static void main(String[] args) throws Exception {
    Server server =
        NettyServerBuilder.forAddress(
                new InetSocketAddress(InetAddress.getByAddress(new byte[] {127, 0, 0, 1}), 0),
                InsecureServerCredentials.create())
            .addService(Echo.service(args[0]))
            .build()
            .start();
    System.out.println(((InetSocketAddress) server.getListenSockets().get(0)).getPort());
    System.out.flush();
    try (BufferedReader parent =
        new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8))) {
      for (String line; (line = parent.readLine()) != null; ) {
        if (line.equals("drain")) {
          server.shutdown().awaitTermination(20, TimeUnit.SECONDS);
          break;
        }
      }
    } catch (IOException e) {
      // The parent went away.
    }
    server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
  }

  /** A started replica process and its port. */
  record Handle(Process process, int port) implements AutoCloseable {
    static Handle start(String id) throws IOException {
      String java = ProcessHandle.current().info().command().orElse("java");
      Process process =
          new ProcessBuilder(
                  java, "-cp", System.getProperty("java.class.path"), ReplicaProcess.class.getName(), id)
              .redirectError(ProcessBuilder.Redirect.INHERIT)
              .start();
      BufferedReader out =
          new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8));
      String line = out.readLine();
      if (line == null) {
        process.destroyForcibly();
        throw new IOException("replica " + id + " did not start");
      }
      return new Handle(process, Integer.parseInt(line.trim()));
    }

    /**
     * Stops the replica as a planned stop does (a graceful shutdown: calls in flight finish) and
     * waits until the process is gone; false if it did not exit within 30 seconds.
     */
    boolean drain() throws IOException, InterruptedException {
      OutputStream in = process.getOutputStream();
      in.write("drain\n".getBytes(StandardCharsets.UTF_8));
      in.flush();
      return process.waitFor(30, TimeUnit.SECONDS);
    }

    /** Kills the process as a crash would (SIGKILL) and waits until it is gone. */
    void kill() throws InterruptedException {
      process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
    }

    @Override
    public void close() throws InterruptedException {
      kill();
    }
  }
}
