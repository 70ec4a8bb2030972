package dev.tether.grpc;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A TCP proxy on 127.0.0.1 for tests. {@link #freezeExisting()} makes every connection open at
 * that moment half-open: the proxy keeps its sockets and keeps reading, but forwards nothing more,
 * as a peer that vanished without closing would. Connections made later are forwarded as usual.
 */
final class FreezingProxy implements AutoCloseable {
  private final ServerSocket listener;
  private final int targetPort;
  private final List<Socket> sockets = new ArrayList<>();
  private final List<AtomicBoolean> frozenFlags = new ArrayList<>();
  private final List<Thread> threads = new ArrayList<>();

  FreezingProxy(int targetPort) throws IOException {
    this.targetPort = targetPort;
    this.listener = new ServerSocket(0, 50, Servers.LOOPBACK);
    start(this::acceptLoop, "proxy-accept");
  }

  int port() {
    return listener.getLocalPort();
  }

  synchronized void freezeExisting() {
    for (AtomicBoolean frozen : frozenFlags) {
      frozen.set(true);
    }
  }

  private void acceptLoop() {
    try {
      while (true) {
        Socket client = listener.accept();
        Socket server = new Socket(Servers.LOOPBACK, targetPort);
        AtomicBoolean frozen = new AtomicBoolean();
        synchronized (this) {
          sockets.add(client);
          sockets.add(server);
          frozenFlags.add(frozen);
        }
        start(() -> pump(client, server, frozen), "proxy-up");
        start(() -> pump(server, client, frozen), "proxy-down");
      }
    } catch (IOException closed) {
      // the proxy is closed
    }
  }

  private static void pump(Socket from, Socket to, AtomicBoolean frozen) {
    byte[] buffer = new byte[16 * 1024];
    try (InputStream in = from.getInputStream()) {
      OutputStream out = to.getOutputStream();
      int n;
      while ((n = in.read(buffer)) >= 0) {
        if (!frozen.get()) {
          out.write(buffer, 0, n);
          out.flush();
        }
      }
    } catch (IOException closed) {
      // one side went away
    }
  }

  private synchronized void start(Runnable task, String name) {
    Thread thread = new Thread(task, name);
    thread.setDaemon(true);
    threads.add(thread);
    thread.start();
  }

  @Override
  public void close() throws IOException {
    List<Thread> toJoin;
    synchronized (this) {
      listener.close();
      for (Socket socket : sockets) {
        socket.close();
      }
      toJoin = new ArrayList<>(threads);
    }
    try {
      for (Thread thread : toJoin) {
        thread.join(10_000);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
