package dev.tether.testing.faults;

import static com.google.common.base.Preconditions.checkArgument;
import static com.google.common.base.Preconditions.checkState;
import static java.util.Objects.requireNonNull;

import com.google.common.net.HostAndPort;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Deque;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A TCP proxy on 127.0.0.1 to put between a client and a real server, to make the network
 * misbehave on purpose.
 *
 * <pre>{@code
 * @RegisterExtension final FaultProxy proxy = FaultProxy.create();
 *
 * @Test
 * void noticesAPeerThatVanished() throws Exception {
 *   proxy.target(server.port());                     // the real server
 *   ... connect the client to proxy.address() ...
 *   proxy.freeze();   // both directions stop, the sockets stay open: a half-open peer
 *   ... keepalive notices, the client reconnects ...
 *   proxy.thaw();
 * }
 * }</pre>
 *
 * <p>The faults, each at once and for every connection through the proxy:
 *
 * <ul>
 *   <li>{@link #freeze()}: nothing more is forwarded, either way; the sockets stay open, so each
 *       side sees a peer that went silent, as a frozen process would look: the kernels still
 *       acknowledge TCP segments and answer TCP keepalive, so only an application-level check
 *       (gRPC's HTTP/2 PING keepalive) notices. A chunk of at most 16 KiB being written as it
 *       freezes still goes out. What the proxy had already read waits; {@link #thaw()} forwards
 *       it and goes on, as a healed network would. Connections made while frozen are frozen too.
 *   <li>{@link #resetAll()}: every connection is reset (TCP RST) on both sides.
 *   <li>{@link #refuseNew(boolean)}: the proxy stops listening, so new connections are refused;
 *       open ones go on. Listening again binds the same port, which the system could in
 *       principle have handed to another socket meanwhile.
 *   <li>{@link #latency(Duration)}: every chunk of bytes that arrives from now on is forwarded that
 *       much later, in order, each way.
 * </ul>
 *
 * <p>Each way, the proxy holds at most 256 KiB that it read and has not written; past that it
 * stops reading, so a reader that falls behind holds its sender back (flow control and a full
 * socket buffer work through the proxy as without it). With a latency, that bound caps a
 * connection's throughput each way at 256 KiB per latency, as a TCP window does on a long link.
 *
 * <p>A half-close goes through (one side's end of stream becomes the other side's), a reset from
 * one side resets the other. A client that connects while the server is down is accepted and
 * then reset, so it sees a reset rather than a refused connection. Each connection the proxy
 * resets as it accepts it is logged with why (no target, too many connections at WARN; the
 * server refused it or did not answer at DEBUG, as a test that kills its server expects).
 *
 * <p>Threads: four daemon threads per connection (a reader and a writer each way) and one that
 * accepts. At most {@link #MAX_CONNECTIONS} connections are open at once; more are reset at once.
 * While frozen, the proxy reads nothing, so a client that gives up and closes is noticed only at
 * the thaw, and counts toward that bound until then. {@link #resetAll()} resets every connection
 * the proxy has set up, and one it is still connecting to the server; one it has only just taken
 * from the listening socket, or not yet (its client's connect returned a moment before), is not.
 * {@link #close()} resets every connection and ends every thread. As a JUnit 5 extension (an instance
 * field with {@code @RegisterExtension}), it closes after each test. Thread-safe.
 */
public final class FaultProxy implements AutoCloseable, AfterEachCallback {
  /** The most connections open through one proxy at once. */
  public static final int MAX_CONNECTIONS = 64;

  private static final Logger logger = LoggerFactory.getLogger(FaultProxy.class);

  /** 127.0.0.1 itself, whatever the JVM's preference for IPv6 makes of "localhost". */
  private static final InetAddress LOOPBACK = ipv4Loopback();
  private static final int CHUNK = 16 * 1024;
  /**
   * The most bytes waiting in the proxy each way per connection; past it the proxy stops reading
   * that way, so that a slow reader holds its sender back, as over a direct connection.
   */
  static final int MAX_QUEUED_BYTES = 256 * 1024;
  private static final int CONNECT_TIMEOUT_MILLIS = 2000;

  private final Object lock = new Object();
  private final Set<Link> links = new LinkedHashSet<>(); // guarded by lock
  private final List<Thread> threads = new ArrayList<>(); // guarded by lock
  private @Nullable ServerSocket listener; // guarded by lock; null while refusing
  private final int port;
  private int targetPort; // guarded by lock; 0 until set
  private boolean frozen; // guarded by lock
  private long latencyNanos; // guarded by lock
  private boolean closed; // guarded by lock
  /** How many times {@link #resetAll} ran: a connection accepted before one is reset too. */
  private long resets; // guarded by lock

  private FaultProxy(int targetPort) {
    try {
      ServerSocket socket = new ServerSocket();
      socket.setReuseAddress(true);
      socket.bind(new InetSocketAddress(LOOPBACK, 0), 50);
      this.listener = socket;
      this.port = socket.getLocalPort();
    } catch (IOException e) {
      throw new UncheckedIOException("could not listen on 127.0.0.1", e);
    }
    this.targetPort = targetPort;
    synchronized (lock) {
      startAccepting(requireNonNull(listener));
    }
  }

  /** A proxy with no target yet: set one with {@link #target(int)} before a client connects. */
  public static FaultProxy create() {
    return new FaultProxy(0);
  }

  /**
   * A proxy to the server on 127.0.0.1 at {@code targetPort}.
   *
   * @throws IllegalArgumentException if the port is not between 1 and 65535
   */
  public static FaultProxy to(int targetPort) {
    checkPort(targetPort);
    return new FaultProxy(targetPort);
  }

  private static void checkPort(int port) {
    checkArgument(port > 0 && port <= 65535, "targetPort must be between 1 and 65535: %s", port);
  }

  /**
   * Sets the server that new connections go to (127.0.0.1 at {@code targetPort}); open ones stay.
   *
   * @throws IllegalStateException if the proxy is closed
   */
  public FaultProxy target(int targetPort) {
    checkPort(targetPort);
    synchronized (lock) {
      checkOpen();
      this.targetPort = targetPort;
    }
    return this;
  }

  /** The port the proxy listens on, on 127.0.0.1; the same for the proxy's whole life. */
  public int port() {
    return port;
  }

  /** The address clients connect to: 127.0.0.1 and {@link #port()}. */
  public HostAndPort address() {
    return HostAndPort.fromParts("127.0.0.1", port);
  }

  /**
   * Stops forwarding, both ways, on every connection, keeping the sockets open.
   *
   * @throws IllegalStateException if the proxy is closed
   */
  public void freeze() {
    synchronized (lock) {
      checkOpen();
      frozen = true;
    }
  }

  /** Forwards again, starting with what waited while frozen. Does nothing once closed. */
  public void thaw() {
    synchronized (lock) {
      frozen = false;
      lock.notifyAll();
    }
  }

  private static InetAddress ipv4Loopback() {
    try {
      return InetAddress.getByAddress("localhost", new byte[] {127, 0, 0, 1});
    } catch (java.net.UnknownHostException e) {
      throw new AssertionError(e); // cannot happen: four bytes make an IPv4 address
    }
  }

  /**
   * Resets every open connection, on both sides (TCP RST, not an orderly close), including one
   * that the proxy is still connecting to the server. Does nothing once closed.
   */
  public void resetAll() {
    List<Link> toReset;
    synchronized (lock) {
      resets++;
      toReset = new ArrayList<>(links);
    }
    toReset.forEach(Link::reset);
  }

  /**
   * With {@code true}, stops listening: new connections are refused, open ones go on. With {@code
   * false}, listens again on the same port.
   *
   * @throws IllegalStateException if the port cannot be bound again (another process took it),
   *     or the proxy is closed
   */
  public void refuseNew(boolean refuse) {
    synchronized (lock) {
      checkOpen();
      ServerSocket current = listener;
      if (refuse && current != null) {
        closeQuietly(current);
        listener = null;
      } else if (!refuse && current == null) {
        try {
          ServerSocket socket = new ServerSocket();
          socket.setReuseAddress(true);
          socket.bind(new InetSocketAddress(LOOPBACK, port), 50);
          listener = socket;
          startAccepting(socket);
        } catch (IOException e) {
          throw new IllegalStateException("could not listen on 127.0.0.1:" + port + " again", e);
        }
      }
    }
  }

  /**
   * Delays every chunk by {@code latency} each way, from now on; zero for none.
   *
   * @throws IllegalArgumentException if {@code latency} is negative
   * @throws IllegalStateException if the proxy is closed
   */
  public void latency(Duration latency) {
    requireNonNull(latency, "latency");
    checkArgument(!latency.isNegative(), "latency must not be negative: %s", latency);
    synchronized (lock) {
      checkOpen();
      latencyNanos = latency.toNanos();
      lock.notifyAll();
    }
  }

  /** Fails a fault asked of a closed proxy, which would otherwise do nothing. Under the lock. */
  private void checkOpen() {
    checkState(
        !closed,
        "the fault proxy on port %s is closed (as a JUnit extension it closes after each test: "
            + "register it as an instance field, not a static one)",
        port);
  }

  /** How many connections are open through the proxy. */
  public int openConnections() {
    synchronized (lock) {
      return links.size();
    }
  }

  /**
   * Closes the listener, resets every connection (what waited in the proxy is dropped, so neither
   * side sees an orderly end), and waits (up to 10 s) for its threads to end.
   */
  @Override
  public void close() {
    List<Link> toClose;
    List<Thread> toJoin;
    synchronized (lock) {
      closed = true;
      ServerSocket current = listener;
      if (current != null) {
        closeQuietly(current);
        listener = null;
      }
      toClose = new ArrayList<>(links);
      toJoin = new ArrayList<>(threads);
      lock.notifyAll();
    }
    toClose.forEach(Link::reset); // what waited in the proxy is dropped: not an orderly end
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    for (Thread thread : toJoin) {
      try {
        thread.join(Math.max(1, TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime())));
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return;
      }
    }
  }

  /** Closes the proxy after each test. */
  @Override
  public void afterEach(ExtensionContext context) {
    close();
  }

  @Override
  public String toString() {
    synchronized (lock) {
      return "FaultProxy[127.0.0.1:" + port + " -> " + (targetPort == 0 ? "none" : targetPort)
          + (frozen ? ", frozen" : "") + (listener == null ? ", refusing" : "")
          + (latencyNanos > 0 ? ", latency " + Duration.ofNanos(latencyNanos) : "")
          + ", " + links.size() + " open]";
    }
  }

  private void startAccepting(ServerSocket socket) {
    start(() -> accept(socket), "fault-proxy-accept-" + port);
  }

  /** Starts a daemon thread; under the lock. */
  private void start(Runnable task, String name) {
    threads.removeIf(t -> !t.isAlive());
    Thread thread = new Thread(task, name);
    thread.setDaemon(true);
    threads.add(thread);
    thread.start();
  }

  private void accept(ServerSocket socket) {
    while (true) {
      Socket client;
      try {
        client = socket.accept();
      } catch (IOException closedOrRefusing) {
        return;
      }
      Socket server = null;
      try {
        int target;
        long resetsAtAccept;
        @Nullable String refused = null;
        synchronized (lock) {
          resetsAtAccept = resets;
          target = targetPort;
          if (closed) {
            refused = "";
          } else if (target == 0) {
            refused = "no target set (call target(port) first)";
          } else if (links.size() >= MAX_CONNECTIONS) {
            refused = MAX_CONNECTIONS + " connections are open already";
          }
        }
        if (refused != null) {
          if (!refused.isEmpty()) { // logged outside the lock: forwarding goes on meanwhile
            logger.warn("fault proxy on port {} reset a new connection: {}", port, refused);
          }
          resetQuietly(client);
          continue;
        }
        server = new Socket();
        server.connect(new InetSocketAddress(LOOPBACK, target), CONNECT_TIMEOUT_MILLIS);
        server.setTcpNoDelay(true);
        client.setTcpNoDelay(true);
        Link link = new Link(client, server);
        synchronized (lock) {
          if (closed) {
            link.reset(); // as close() resets the others
            return;
          }
          if (resets != resetsAtAccept) {
            // The client saw its connection open before a resetAll(): it is reset too.
            link.reset();
            continue;
          }
          links.add(link);
          start(link.upReader, "fault-proxy-up-" + port);
          start(link.upWriter, "fault-proxy-up-write-" + port);
          start(link.downReader, "fault-proxy-down-" + port);
          start(link.downWriter, "fault-proxy-down-write-" + port);
        }
      } catch (IOException e) { // the server refused: so does the proxy, as a direct client would see
        logger.debug(
            "fault proxy on port {} reset a new connection: the server did not take it ({})",
            port,
            e.toString());
        resetQuietly(client);
        if (server != null) {
          closeQuietly(server);
        }
      }
    }
  }

  /** Waits while frozen; returns false if the proxy or the link closed. Under the lock. */
  private boolean awaitThawed(Link link) throws InterruptedException {
    while (frozen && !closed && !link.closed) {
      lock.wait();
    }
    return !closed && !link.closed;
  }

  /** The chunks read one way and not yet written, and their bytes; guarded by lock. */
  private static final class Pipe {
    final Deque<Chunk> chunks = new ArrayDeque<>();
    long bytes;
  }

  /** One client connection and its connection to the server. */
  private final class Link {
    private final Socket client;
    private final Socket server;
    private boolean closed; // guarded by lock
    private int ended; // guarded by lock: directions that ended in order
    final Runnable upReader;
    final Runnable upWriter;
    final Runnable downReader;
    final Runnable downWriter;

    Link(Socket client, Socket server) {
      this.client = client;
      this.server = server;
      Pipe up = new Pipe();
      Pipe down = new Pipe();
      upReader = () -> read(client, up);
      upWriter = () -> write(up, server);
      downReader = () -> read(server, down);
      downWriter = () -> write(down, client);
    }

    /**
     * Reads chunks from {@code from} into {@code pipe}, not while frozen, nor while the pipe holds
     * {@link #MAX_QUEUED_BYTES}; then the end of the stream, or a reset if reading failed.
     */
    private void read(Socket from, Pipe pipe) {
      byte[] buffer = new byte[CHUNK];
      Chunk last = Chunk.RESET;
      try {
        InputStream in = from.getInputStream(); // closed with the socket, not here: a half-close
        while (true) {
          synchronized (lock) {
            while (true) {
              if (!awaitThawed(this)) {
                return;
              }
              if (pipe.bytes < MAX_QUEUED_BYTES) {
                break;
              }
              lock.wait(); // the writer is behind: hold the sender back
            }
          }
          int n = in.read(buffer);
          if (n < 0) {
            last = Chunk.END;
            return;
          }
          synchronized (lock) {
            pipe.chunks.addLast(new Chunk(Arrays.copyOf(buffer, n), System.nanoTime() + latencyNanos));
            pipe.bytes += n;
            lock.notifyAll();
          }
        }
      } catch (IOException | InterruptedException e) {
        // reset, or closed by the proxy: the other side is reset (a no-op if closed already)
      } finally {
        synchronized (lock) {
          pipe.chunks.addLast(last);
          lock.notifyAll();
        }
      }
    }

    /** Writes the chunks of {@code pipe} to {@code to} when due, not while frozen. */
    private void write(Pipe pipe, Socket to) {
      try {
        OutputStream out = to.getOutputStream();
        while (true) {
          Chunk next;
          synchronized (lock) {
            while (true) {
              if (!awaitThawed(this)) {
                return;
              }
              Chunk first = pipe.chunks.peekFirst();
              if (first == null) {
                lock.wait();
                continue;
              }
              long wait = first.due - System.nanoTime();
              if (first.bytes.length > 0 && wait > 0) {
                TimeUnit.NANOSECONDS.timedWait(lock, wait);
                continue;
              }
              next = pipe.chunks.removeFirst();
              boolean wasFull = pipe.bytes >= MAX_QUEUED_BYTES;
              pipe.bytes -= next.bytes.length;
              if (wasFull && pipe.bytes < MAX_QUEUED_BYTES) {
                lock.notifyAll(); // the reader held back may read again
              }
              break;
            }
          }
          if (next == Chunk.RESET) {
            reset();
            return;
          }
          if (next == Chunk.END) {
            to.shutdownOutput(); // a half-close: the other way goes on
            directionEnded();
            return;
          }
          out.write(next.bytes);
          out.flush();
        }
      } catch (IOException | InterruptedException e) {
        reset();
      }
    }

    /** One direction ended in order; when both have, the connection is done. */
    private void directionEnded() {
      boolean both;
      synchronized (lock) {
        both = ++ended == 2;
      }
      if (both) {
        close();
      }
    }

    void reset() {
      lingerZero(client); // both first, so that neither side can see an orderly close
      lingerZero(server);
      closeQuietly(client);
      closeQuietly(server);
      markClosed();
    }

    void close() {
      closeQuietly(client);
      closeQuietly(server);
      markClosed();
    }

    private void markClosed() {
      synchronized (lock) {
        closed = true;
        links.remove(this);
        lock.notifyAll();
      }
    }
  }

  /** Bytes read at a time and when they are due; or the end of a direction, or a reset. */
  private record Chunk(byte[] bytes, long due) {
    static final Chunk END = new Chunk(new byte[0], 0);
    static final Chunk RESET = new Chunk(new byte[0], 0);
  }

  private static void lingerZero(Socket socket) {
    try {
      socket.setSoLinger(true, 0); // close() then sends RST
    } catch (SocketException ignored) {
      // closed already
    }
  }

  private static void resetQuietly(Socket socket) {
    lingerZero(socket);
    closeQuietly(socket);
  }

  private static void closeQuietly(AutoCloseable closeable) {
    try {
      closeable.close();
    } catch (Exception ignored) {
      // closing anyway
    }
  }
}
