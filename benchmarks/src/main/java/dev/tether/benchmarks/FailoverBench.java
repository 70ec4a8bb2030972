package dev.tether.benchmarks;

import com.google.common.net.HostAndPort;
import com.google.common.util.concurrent.Futures;
import com.google.common.util.concurrent.ListenableFuture;
import com.google.common.util.concurrent.MoreExecutors;
import dev.tether.Connector;
import dev.tether.Event;
import dev.tether.PersistentConnection;
import dev.tether.grpc.ChannelFactory;
import dev.tether.grpc.Echo;
import dev.tether.grpc.GrpcConnection;
import dev.tether.grpc.GrpcConnector;
import dev.tether.grpc.PersistentChannel;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.ClientInterceptor;
import io.grpc.ClientInterceptors;
import io.grpc.ForwardingClientCall.SimpleForwardingClientCall;
import io.grpc.ForwardingClientCallListener.SimpleForwardingClientCallListener;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Failover: two loopback replicas; the serving one is killed with shutdownNow(); how long until
 * the first successful unary call. A: Tether, with a lookup that alternates replicas. D: A with a
 * standby. B: a plain grpc-java channel given both addresses (pick_first). C: a plain channel
 * given only the killed address while that replica is restarted on the same port at once.
 *
 * <p>The four clients live side by side and take turns, in a seeded random order each round,
 * after the same untimed warm-up rounds: no client is measured on colder code, or in a quieter
 * minute of the machine, than another.
 */
final class FailoverBench {
  private static final Duration RETRY_DELAY = Duration.ofMillis(250);
  /** How long the kill itself takes (shutdownNow and awaitTermination): no client can beat it. */
  private static final Stats KILL = new Stats();
  private static final AtomicLong LAST_KILL = new AtomicLong();
  private static final AtomicLong KILL_RETURNED = new AtomicLong();
  /** A unary call on a ready channel, timed just before each kill: the rest of the floor. */
  private static final Stats CALL = new Stats();
  /** With --debug: what happened in the current trial, and when; printed after it. */
  private static final List<TraceEntry> TRACE = Collections.synchronizedList(new ArrayList<>());
  private static final boolean DEBUG = System.getProperty("bench.debug") != null;

  private record TraceEntry(long nanos, String what, String thread) {}

  /** Notes {@code what} for the current trial's trace; cheap, so that it barely moves the times. */
  private static void trace(Object what) {
    if (DEBUG) {
      TRACE.add(new TraceEntry(System.nanoTime(), String.valueOf(what), Thread.currentThread().getName()));
    }
  }

  private static void printTrace(String client, boolean print) {
    if (!DEBUG) {
      return;
    }
    List<TraceEntry> entries;
    synchronized (TRACE) {
      entries = new ArrayList<>(TRACE);
      TRACE.clear();
    }
    if (!print) {
      return;
    }
    System.out.printf(Locale.ROOT, "%s%n", client);
    long killed = LAST_KILL.get();
    for (TraceEntry entry : entries) {
      System.out.printf(
          Locale.ROOT,
          "  %7.2f ms %s on %s%n",
          (entry.nanos() - killed) / 1e6,
          entry.what(),
          entry.thread());
    }
  }

  private FailoverBench() {}

  /**
   * With --debug, a connector that notes when each connect starts, returns and completes, on
   * channels that note where each call starts; otherwise the plain connector.
   */
  private static Connector<HostAndPort, GrpcConnection<HostAndPort>> traced(
      GrpcConnector.Builder<HostAndPort> builder) {
    if (!DEBUG) {
      return builder.build();
    }
    GrpcConnector<HostAndPort> connector =
        builder.customizer(channel -> channel.intercept(tracer("raw"))).build();
    return address -> {
      trace("connect " + address);
      ListenableFuture<GrpcConnection<HostAndPort>> connecting = connector.connect(address);
      trace("connect returned");
      connecting.addListener(() -> trace("connect done"), MoreExecutors.directExecutor());
      return connecting;
    };
  }

  /** Notes when a call starts, on which channel, and when it closes, with what code. */
  private static ClientInterceptor tracer(String where) {
    return new ClientInterceptor() {
      @Override
      public <ReqT, RespT> ClientCall<ReqT, RespT> interceptCall(
          MethodDescriptor<ReqT, RespT> method, CallOptions options, Channel next) {
        return new SimpleForwardingClientCall<ReqT, RespT>(next.newCall(method, options)) {
          @Override
          public void start(Listener<RespT> listener, Metadata headers) {
            trace(where + " start on " + next);
            super.start(
                new SimpleForwardingClientCallListener<RespT>(listener) {
                  @Override
                  public void onClose(Status status, Metadata trailers) {
                    trace(where + " closed " + status.getCode());
                    super.onClose(status, trailers);
                  }
                },
                headers);
          }
        };
      }
    };
  }

  /** One client under test, with its own replicas. */
  private interface Client extends AutoCloseable {
    String name();

    /** The stub the trials call through. */
    Echo.Stub stub();

    /** Kills the replica that serves this client; returns the nanoseconds to a successful call. */
    long trial() throws Exception;

    @Override
    void close() throws Exception;
  }

  /**
   * Runs the trials, then the planned moves. {@code cases} may set the untimed warm-up rounds
   * ({@code warmup=200}); by default 20 ({@code --quick}: 3).
   */
  static void run(boolean quick, List<String> cases) throws Exception {
    int warmUp = quick ? 3 : 20;
    for (String option : cases) {
      if (option.startsWith("warmup=")) {
        warmUp = Integer.parseInt(option.substring("warmup=".length()));
      } else {
        throw new IllegalArgumentException("failover takes warmup=<rounds>, not " + option);
      }
    }
    int trials = quick ? 10 : 50;
    int callWarmUp = quick ? 2_000 : 20_000;
    StaticResolverProvider.install();
    List<Client> clients = new ArrayList<>();
    try {
      clients.add(new TetherClient("A tether, alternating lookup", false));
      clients.add(new TetherClient("D tether with standby", true));
      clients.add(new PickFirstClient());
      clients.add(new SameAddressClient());
      List<Stats> stats = new ArrayList<>();
      List<Integer> turn = new ArrayList<>();
      for (int i = 0; i < clients.size(); i++) {
        stats.add(new Stats());
        turn.add(i);
      }
      // A service that has run for a while has a hot call path: warm every client's the same way.
      for (int pass = 0; pass < 10; pass++) {
        for (Client client : clients) {
          for (int i = 0; i < callWarmUp / 10; i++) {
            whoServes(client.stub());
          }
        }
      }
      Random order = new Random(42);
      for (int round = 0; round < warmUp + trials; round++) {
        Collections.shuffle(turn, order);
        for (int i : turn) {
          long nanos = clients.get(i).trial();
          printTrace(clients.get(i).name(), round >= warmUp);
          if (round >= warmUp) {
            stats.get(i).add(nanos);
          }
        }
      }
      for (int i = 0; i < clients.size(); i++) {
        print(clients.get(i).name(), stats.get(i));
      }
      Stats a = stats.get(0);
      Stats d = stats.get(1);
      Stats b = stats.get(2);
      Stats c = stats.get(3);
      System.out.printf(
          Locale.ROOT,
          "failover p50 ratio A/B = %.2f, D/B = %.2f, A/C = %.2f; p99 A = %.1f ms, D = %.1f ms%n",
          a.percentile(50) / b.percentile(50),
          d.percentile(50) / b.percentile(50),
          a.percentile(50) / c.percentile(50),
          a.percentile(99),
          d.percentile(99));
      print("the kill itself (floor)", KILL);
      print("a call on a ready channel (floor)", CALL);
    } finally {
      for (Client client : clients) {
        client.close();
      }
    }
    PlannedMoveBench.run(quick ? 5 : 20);
  }

  private static void print(String what, Stats stats) {
    System.out.printf(Locale.ROOT, "failover %-42s %s%n", what, stats.summary());
  }

  /** Calls until one succeeds; each call waits for a connection up to 5 s. */
  private static void callUntilSuccess(Echo.Stub stub) {
    for (int i = 0; ; i++) {
      try {
        stub.withWaitForReady().withDeadlineAfter(5, TimeUnit.SECONDS).say("x");
        return;
      } catch (StatusRuntimeException e) {
        trace("call failed: " + e.getStatus());
        if (i > 1000) {
          throw e;
        }
      }
    }
  }

  static String whoServes(Echo.Stub stub) {
    return stub.withWaitForReady().withDeadlineAfter(10, TimeUnit.SECONDS).say("who");
  }

  /** A, or D with {@code standby}: Tether's PersistentChannel on an alternating lookup. */
  private static final class TetherClient implements Client {
    private final String name;
    private final boolean standby;
    private final Replica r1 = new Replica("r1");
    private final Replica r2 = new Replica("r2");
    private final AtomicLong connectedAt = new AtomicLong();
    private final PersistentConnection<HostAndPort, GrpcConnection<HostAndPort>> connection;
    private final Echo.Stub stub;

    TetherClient(String name, boolean standby) {
      this.name = name;
      this.standby = standby;
      List<HostAndPort> replicas = List.of(r1.address(), r2.address());
      AtomicInteger next = new AtomicInteger();
      connection =
          PersistentConnection.<HostAndPort, GrpcConnection<HostAndPort>>builder("bench")
              .connector(traced(GrpcConnector.builder(ChannelFactory.plaintext())))
              .addressLookup(
                  () ->
                      Futures.immediateFuture(
                          replicas.get(next.getAndIncrement() % replicas.size())))
              .retryDelay(RETRY_DELAY)
              .standby(standby)
              .logger(org.slf4j.helpers.NOPLogger.NOP_LOGGER)
              .onEvent(
                  event -> {
                    if (event instanceof Event.Connected) {
                      connectedAt.set(System.nanoTime());
                    }
                    trace(event);
                  })
              .build();
      PersistentChannel channel = PersistentChannel.of(connection);
      stub = new Echo.Stub(DEBUG ? ClientInterceptors.intercept(channel, tracer("call")) : channel);
    }

    @Override
    public String name() {
      return name;
    }

    @Override
    public Echo.Stub stub() {
      return stub;
    }

    @Override
    public long trial() throws Exception {
      return killTheServingReplica(
          stub,
          r1,
          r2,
          () -> {
            if (standby) {
              // The standby is live: connected to the other replica.
              while (connection.state().standbyAddress() == null) {
                TimeUnit.MILLISECONDS.sleep(1);
              }
              return;
            }
            // A long-lived connection: older than the randomized retry delay (at most 1.3 x).
            long wait =
                RETRY_DELAY.toNanos() * 14 / 10 - (System.nanoTime() - connectedAt.get());
            if (wait > 0) {
              TimeUnit.NANOSECONDS.sleep(wait);
            }
          });
    }

    @Override
    public void close() throws Exception {
      connection.close().get(10, TimeUnit.SECONDS);
      r1.kill();
      r2.kill();
    }
  }

  /** Before each kill, a caller-specific wait; then the trial that all clients share. */
  @FunctionalInterface
  private interface BeforeKill {
    void run() throws InterruptedException;
  }

  /**
   * One trial: find the replica that serves, kill it, time the first successful call, start the
   * replica again on its port.
   */
  private static long killTheServingReplica(
      Echo.Stub stub, Replica r1, Replica r2, BeforeKill beforeKill) throws Exception {
    beforeKill.run();
    long asked = System.nanoTime();
    Replica victim = whoServes(stub).startsWith("r1") ? r1 : r2;
    CALL.add(System.nanoTime() - asked);
    long killed = System.nanoTime();
    LAST_KILL.set(killed);
    victim.kill();
    KILL_RETURNED.set(System.nanoTime());
    KILL.add(KILL_RETURNED.get() - killed);
    callUntilSuccess(stub);
    long nanos = System.nanoTime() - killed;
    trace("kill returned at " + (KILL_RETURNED.get() - killed) / 1e6 + " ms; success");
    victim.start();
    return nanos;
  }

  /** B: a plain channel given both replicas' addresses. */
  private static final class PickFirstClient implements Client {
    private final Replica r1 = new Replica("r1");
    private final Replica r2 = new Replica("r2");
    private final ManagedChannel channel = pickFirst(r1, r2);
    private final Echo.Stub stub = new Echo.Stub(channel);

    @Override
    public String name() {
      return "B grpc-java pick_first, both addresses";
    }

    @Override
    public Echo.Stub stub() {
      return stub;
    }

    @Override
    public long trial() throws Exception {
      return killTheServingReplica(stub, r1, r2, () -> {});
    }

    @Override
    public void close() throws Exception {
      channel.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
      r1.kill();
      r2.kill();
    }
  }

  /** A plain channel given both replicas' addresses: pick_first, through a static resolver. */
  static ManagedChannel pickFirst(Replica r1, Replica r2) {
    return NettyChannelBuilder.forTarget(
            StaticResolverProvider.target(List.of(r1.address(), r2.address())))
        .usePlaintext()
        .build();
  }

  /** C: a plain channel given one address, whose replica restarts on the same port at once. */
  private static final class SameAddressClient implements Client {
    private final Replica replica = new Replica("r1");
    private final ManagedChannel channel =
        NettyChannelBuilder.forAddress("127.0.0.1", replica.port()).usePlaintext().build();
    private final Echo.Stub stub = new Echo.Stub(channel);

    @Override
    public String name() {
      return "C grpc-java, killed address restarted";
    }

    @Override
    public Echo.Stub stub() {
      return stub;
    }

    @Override
    public long trial() throws Exception {
      long asked = System.nanoTime();
      whoServes(stub);
      CALL.add(System.nanoTime() - asked);
      long killed = System.nanoTime();
      replica.kill();
      replica.start();
      callUntilSuccess(stub);
      return System.nanoTime() - killed;
    }

    @Override
    public void close() throws Exception {
      channel.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
      replica.kill();
    }
  }
}
