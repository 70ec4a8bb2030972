package dev.tether.benchmarks;

import com.google.common.net.HostAndPort;
import com.google.common.util.concurrent.Futures;
import dev.tether.PersistentConnection;
import dev.tether.grpc.ChannelFactory;
import dev.tether.grpc.Echo;
import dev.tether.grpc.GrpcConnection;
import dev.tether.grpc.GrpcConnector;
import dev.tether.grpc.PersistentChannel;
import io.grpc.Channel;
import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

/**
 * A planned move under steady traffic: the serving replica is to go away on purpose. Tether:
 * {@code handOver()} to the other replica, then the old one shuts down gracefully. grpc-java
 * pick_first given both addresses: the serving replica shuts down gracefully (GOAWAY) and the
 * channel moves on by itself. Both under the same load (four threads of fail-fast unary calls),
 * counting the calls that failed and the slowest call of each move.
 */
final class PlannedMoveBench {
  private static final int CALLERS = 4;

  private PlannedMoveBench() {}

  /** The planned moves alone, many of them: 200 ({@code --quick}: 20) for each client. */
  static void runAlone(boolean quick) throws Exception {
    StaticResolverProvider.install();
    run(quick ? 20 : 200);
  }

  static void run(int moves) throws Exception {
    report("tether handOver(), then graceful shutdown", tether(moves), moves);
    report("grpc-java pick_first, graceful shutdown", pickFirst(moves), moves);
  }

  /** Calls made and failed, the slowest call, the longest time without a success, the run's length. */
  record Result(long calls, long failed, long slowestMicros, long longestGapMicros, long millis) {
    String line() {
      return String.format(
          Locale.ROOT,
          "%d calls (%.0f/s), %d failed, slowest call %.1f ms, longest gap without a success %.1f ms",
          calls,
          calls * 1000.0 / millis,
          failed,
          slowestMicros / 1000.0,
          longestGapMicros / 1000.0);
    }
  }

  private static void report(String what, Result result, int moves) {
    System.out.printf(Locale.ROOT, "planned move %-42s %d moves: %s%n", what, moves, result.line());
  }

  private static Result tether(int moves) throws Exception {
    Replica r1 = new Replica("r1");
    Replica r2 = new Replica("r2");
    AtomicReference<HostAndPort> catalog = new AtomicReference<>(r1.address());
    PersistentConnection<HostAndPort, GrpcConnection<HostAndPort>> connection =
        GrpcConnector.persistentConnection("bench", ChannelFactory.plaintext())
            .addressLookup(() -> Futures.immediateFuture(catalog.get()))
            .logger(org.slf4j.helpers.NOPLogger.NOP_LOGGER)
            .build();
    PersistentChannel channel = PersistentChannel.of(connection);
    try {
      connection.connected().get(10, TimeUnit.SECONDS);
      return underLoad(
          channel,
          moves,
          () -> {
            Replica from = FailoverBench.whoServes(new Echo.Stub(channel)).startsWith("r1") ? r1 : r2;
            Replica to = from == r1 ? r2 : r1;
            catalog.set(to.address());
            connection.handOver().get(10, TimeUnit.SECONDS);
            from.stopGracefully();
            from.start();
          });
    } finally {
      connection.close().get(10, TimeUnit.SECONDS);
      r1.kill();
      r2.kill();
    }
  }

  private static Result pickFirst(int moves) throws Exception {
    Replica r1 = new Replica("r1");
    Replica r2 = new Replica("r2");
    ManagedChannel channel = FailoverBench.pickFirst(r1, r2);
    try {
      return underLoad(
          channel,
          moves,
          () -> {
            Replica from = FailoverBench.whoServes(new Echo.Stub(channel)).startsWith("r1") ? r1 : r2;
            from.stopGracefully();
            from.start();
          });
    } finally {
      channel.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
      r1.kill();
      r2.kill();
    }
  }

  @FunctionalInterface
  interface Move {
    void run() throws Exception;
  }

  /** Runs {@code move} {@code moves} times while four threads make fail-fast unary calls. */
  static Result underLoad(Channel channel, int moves, Move move) throws Exception {
    AtomicBoolean stop = new AtomicBoolean();
    AtomicLong calls = new AtomicLong();
    AtomicLong failed = new AtomicLong();
    AtomicLong slowest = new AtomicLong();
    AtomicLong lastSuccess = new AtomicLong(System.nanoTime());
    AtomicLong longestGap = new AtomicLong();
    Echo.Stub stub = new Echo.Stub(channel);
    ExecutorService callers = Executors.newFixedThreadPool(CALLERS);
    try {
      List<Future<?>> loops =
          java.util.stream.IntStream.range(0, CALLERS)
              .<Future<?>>mapToObj(
                  i ->
                      callers.submit(
                          () -> {
                            while (!stop.get()) {
                              long started = System.nanoTime();
                              try {
                                stub.withDeadlineAfter(10, TimeUnit.SECONDS).say("x");
                                long now = System.nanoTime();
                                long gap = now - lastSuccess.getAndSet(now);
                                longestGap.accumulateAndGet(gap / 1000, Math::max);
                              } catch (StatusRuntimeException e) {
                                if (failed.incrementAndGet() <= 5) {
                                  System.out.printf(
                                      Locale.ROOT,
                                      "  a call failed after %.1f ms: %s%n",
                                      (System.nanoTime() - started) / 1e6,
                                      e.getStatus());
                                }
                              }
                              calls.incrementAndGet();
                              slowest.accumulateAndGet(
                                  (System.nanoTime() - started) / 1000, Math::max);
                            }
                          }))
              .toList();
      long began = System.nanoTime();
      TimeUnit.MILLISECONDS.sleep(500); // traffic before the first move
      // The slowest call and the longest gap count from the first move: a client's first calls
      // in a fresh JVM (Tether's run comes first) take tens of milliseconds on cold code.
      slowest.set(0);
      longestGap.set(0);
      lastSuccess.set(System.nanoTime());
      for (int i = 0; i < moves; i++) {
        move.run();
        TimeUnit.MILLISECONDS.sleep(100);
      }
      stop.set(true);
      for (Future<?> loop : loops) {
        loop.get(30, TimeUnit.SECONDS);
      }
      long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - began);
      return new Result(calls.get(), failed.get(), slowest.get(), longestGap.get(), millis);
    } finally {
      callers.shutdownNow();
    }
  }
}
