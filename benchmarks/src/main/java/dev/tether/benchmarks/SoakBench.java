package dev.tether.benchmarks;

import com.google.common.net.HostAndPort;
import com.google.common.util.concurrent.Futures;
import dev.tether.PersistentConnection;
import dev.tether.grpc.ChannelFactory;
import dev.tether.grpc.Echo;
import dev.tether.grpc.GrpcConnection;
import dev.tether.grpc.GrpcConnector;
import dev.tether.grpc.PersistentChannel;
import dev.tether.testing.faults.FaultProxy;
import io.grpc.CallOptions;
import io.grpc.ForwardingChannelBuilder2;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ClientCalls;
import java.lang.management.ManagementFactory;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;

/**
 * Reliability over a long run: three loopback Netty replicas, each behind a {@link FaultProxy},
 * killed and restarted, their networks frozen and thawed and their connections reset, at seeded
 * random times, while four threads make unary calls and two make server-streaming calls, all
 * wait-for-ready with deadlines, through one Tether {@link PersistentChannel} (keepalive on, so
 * that a frozen network is noticed). Every minute and at the end it prints the calls, the failures
 * by status, the calls that outlived their deadline by more than 100 ms, the heap after a GC, the
 * live threads and the open channels.
 *
 * <p>It passes when no call outlived its deadline by more than 100 ms, the heap after GC and the
 * thread count are flat (the last minute within 10% of the second), and every channel has
 * terminated after close.
 */
final class SoakBench {
  private static final long SEED = Long.getLong("soak.seed", 20261130L);
  private static final long LATE_MILLIS = 100;
  private static final int UNARY_CALLERS = 4;
  private static final int STREAM_CALLERS = 2;
  /**
   * Quiets the servers' log of streams that a client abandoned (a deadline passed mid-stream):
   * thousands of expected lines that would hide the reports. Held here, as JUL keeps loggers
   * weakly.
   */
  private static final java.util.logging.Logger SERVER_STREAMS =
      java.util.logging.Logger.getLogger("io.grpc.netty.shaded.io.grpc.netty.NettyServerHandler");

  private SoakBench() {}

  /** Parses "90s", "10m", "1h" or an ISO-8601 duration. */
  static Duration parse(String text) {
    String t = text.trim().toLowerCase(Locale.ROOT);
    if (t.startsWith("p")) {
      return Duration.parse(text);
    }
    long n = Long.parseLong(t.substring(0, t.length() - 1));
    return switch (t.charAt(t.length() - 1)) {
      case 's' -> Duration.ofSeconds(n);
      case 'm' -> Duration.ofMinutes(n);
      case 'h' -> Duration.ofHours(n);
      default -> throw new IllegalArgumentException("a duration like 90s, 10m or 1h, not " + text);
    };
  }

  /** One report's figures. */
  private record Sample(long heapBytes, int threads) {}

  static void run(boolean quick, List<String> args) throws Exception {
    SERVER_STREAMS.setLevel(java.util.logging.Level.SEVERE);
    Duration length = !args.isEmpty() ? parse(args.get(0)) : quick ? Duration.ofMinutes(1) : Duration.ofMinutes(10);
    Duration every = length.compareTo(Duration.ofMinutes(3)) < 0 ? length.dividedBy(4) : Duration.ofMinutes(1);
    System.out.printf(Locale.ROOT, "soak: %s, a report every %s, seed %d%n", length, every, SEED);

    List<Replica> replicas = new ArrayList<>();
    List<FaultProxy> proxies = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      Replica replica = new Replica("r" + i);
      replicas.add(replica);
      proxies.add(FaultProxy.to(replica.port()));
    }
    LiveChannels channels = new LiveChannels();
    Random lookups = new Random(SEED);
    PersistentConnection<HostAndPort, GrpcConnection<HostAndPort>> connection =
        GrpcConnector.builder(channels)
            .keepAlive(Duration.ofSeconds(10), Duration.ofSeconds(2), true)
            .connectTimeout(Duration.ofSeconds(2))
            .build()
            .persistentConnection("soak")
            .addressLookup(
                () -> {
                  synchronized (lookups) {
                    return Futures.immediateFuture(proxies.get(lookups.nextInt(proxies.size())).address());
                  }
                })
            .retryDelay(Duration.ofMillis(500))
            .standby(true)
            .logger(org.slf4j.helpers.NOPLogger.NOP_LOGGER)
            .build();
    PersistentChannel channel = PersistentChannel.of(connection);

    LongAdder calls = new LongAdder();
    LongAdder late = new LongAdder();
    AtomicLong latest = new AtomicLong();
    Map<Status.Code, LongAdder> failures = new ConcurrentHashMap<>();
    long end = System.nanoTime() + length.toNanos();
    ExecutorService callers = Executors.newFixedThreadPool(UNARY_CALLERS + STREAM_CALLERS + 1);
    List<Future<?>> running = new ArrayList<>();
    for (int c = 0; c < UNARY_CALLERS + STREAM_CALLERS; c++) {
      boolean streaming = c >= UNARY_CALLERS;
      long seed = SEED + c;
      running.add(
          callers.submit(
              () -> {
                Random own = new Random(seed);
                Echo.Stub stub = new Echo.Stub(channel);
                while (System.nanoTime() < end) {
                  long deadline = streaming ? 1000 + own.nextInt(2000) : 200 + own.nextInt(800);
                  long began = System.nanoTime();
                  try {
                    if (streaming) {
                      Iterator<String> answers =
                          ClientCalls.blockingServerStreamingCall(
                              channel,
                              Echo.REPEAT,
                              CallOptions.DEFAULT.withWaitForReady().withDeadlineAfter(deadline, TimeUnit.MILLISECONDS),
                              "50");
                      answers.forEachRemaining(a -> {});
                    } else {
                      stub.withWaitForReady().withDeadlineAfter(deadline, TimeUnit.MILLISECONDS).say("x");
                    }
                  } catch (StatusRuntimeException e) {
                    failures.computeIfAbsent(e.getStatus().getCode(), k -> new LongAdder()).increment();
                  }
                  calls.increment();
                  long over = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - began) - deadline;
                  if (over > LATE_MILLIS) {
                    late.increment();
                    latest.accumulateAndGet(over, Math::max);
                  }
                }
                return null;
              }));
    }

    // The faults: every 2 to 10 s, one replica is killed (back 1 to 5 s later), frozen (thawed 2
    // to 15 s later: long enough, at times, for keepalive to notice), or has its connections reset.
    Random chaos = new Random(SEED ^ 0x5eed);
    List<String> faults = Collections.synchronizedList(new ArrayList<>());
    running.add(
        callers.submit(
            () -> {
              while (true) {
                long pause = 2000 + chaos.nextInt(8000);
                if (System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(pause + 15_000) > end) {
                  return null; // leave the end calm, with every replica up
                }
                TimeUnit.MILLISECONDS.sleep(pause);
                int i = chaos.nextInt(replicas.size());
                switch (chaos.nextInt(3)) {
                  case 0 -> {
                    replicas.get(i).kill();
                    TimeUnit.MILLISECONDS.sleep(1000 + chaos.nextInt(4000));
                    replicas.get(i).start();
                    faults.add("kill");
                  }
                  case 1 -> {
                    proxies.get(i).freeze();
                    TimeUnit.MILLISECONDS.sleep(2000 + chaos.nextInt(13_000));
                    proxies.get(i).thaw();
                    faults.add("freeze");
                  }
                  default -> {
                    proxies.get(i).resetAll();
                    faults.add("reset");
                  }
                }
              }
            }));

    List<Sample> samples = new ArrayList<>();
    long started = System.nanoTime();
    long lastCalls = 0;
    while (System.nanoTime() < end) {
      long next = Math.min(end, System.nanoTime() + every.toNanos());
      TimeUnit.NANOSECONDS.sleep(Math.max(0, next - System.nanoTime()));
      Sample sample = sample();
      samples.add(sample);
      long total = calls.sum();
      System.out.printf(
          Locale.ROOT,
          "soak at %4ds: %,d calls (%,d since the last report), failures %s, %d late by more than %d ms"
              + " (worst %d ms), heap after GC %.1f MiB, %d threads, %d open channels, %d faults%n",
          TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - started),
          total,
          total - lastCalls,
          byStatus(failures),
          late.sum(),
          LATE_MILLIS,
          latest.get(),
          sample.heapBytes() / 1048576.0,
          sample.threads(),
          channels.open(),
          faults.size());
      lastCalls = total;
    }
    for (Future<?> caller : running) {
      caller.get(60, TimeUnit.SECONDS);
    }
    callers.shutdown();
    connection.close().get(30, TimeUnit.SECONDS);
    boolean terminated = channels.awaitAllTerminated(Duration.ofSeconds(10));
    proxies.forEach(FaultProxy::close);
    for (Replica replica : replicas) {
      replica.kill();
    }

    boolean flat = true;
    String flatness = "fewer than 3 reports: flatness not judged";
    if (samples.size() >= 3) {
      Sample second = samples.get(1);
      Sample last = samples.get(samples.size() - 1);
      flat =
          last.heapBytes() <= second.heapBytes() * 1.10
              && last.threads() <= second.threads() * 1.10;
      flatness =
          String.format(
              Locale.ROOT,
              "heap after GC %.1f -> %.1f MiB, threads %d -> %d (second report -> last)",
              second.heapBytes() / 1048576.0,
              last.heapBytes() / 1048576.0,
              second.threads(),
              last.threads());
    }
    boolean pass = late.sum() == 0 && flat && terminated;
    System.out.printf(
        Locale.ROOT,
        "soak %s: %,d calls, failures %s, %d late by more than %d ms, %s, faults %s, every channel"
            + " terminated after close: %s%n",
        pass ? "PASSED" : "FAILED",
        calls.sum(),
        byStatus(failures),
        late.sum(),
        LATE_MILLIS,
        flatness,
        countOf(faults),
        terminated);
  }

  private static Map<String, Long> countOf(List<String> faults) {
    Map<String, Long> counts = new TreeMap<>();
    synchronized (faults) {
      faults.forEach(f -> counts.merge(f, 1L, Long::sum));
    }
    return counts;
  }

  private static Map<Status.Code, Long> byStatus(Map<Status.Code, LongAdder> failures) {
    Map<Status.Code, Long> sorted = new TreeMap<>();
    failures.forEach((code, n) -> sorted.put(code, n.sum()));
    return sorted;
  }

  private static Sample sample() {
    System.gc();
    long heap = ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
    return new Sample(heap, ManagementFactory.getThreadMXBean().getThreadCount());
  }

  /** A channel factory that knows which of its channels have not terminated. */
  private static final class LiveChannels implements ChannelFactory<HostAndPort> {
    private final ChannelFactory<HostAndPort> delegate = ChannelFactory.plaintext();
    private final List<ManagedChannel> live = new ArrayList<>(); // guarded by this

    @Override
    public ManagedChannelBuilder<?> newChannelBuilder(HostAndPort address) {
      ManagedChannelBuilder<?> builder = delegate.newChannelBuilder(address);
      return new ForwardingChannelBuilder2<Counted>() {
        @Override
        protected ManagedChannelBuilder<?> delegate() {
          return builder;
        }

        @Override
        public ManagedChannel build() {
          ManagedChannel channel = super.build();
          synchronized (LiveChannels.this) {
            live.removeIf(ManagedChannel::isTerminated);
            live.add(channel);
          }
          return channel;
        }
      };
    }

    synchronized int open() {
      live.removeIf(ManagedChannel::isTerminated);
      return live.size();
    }

    boolean awaitAllTerminated(Duration within) throws InterruptedException {
      long deadline = System.nanoTime() + within.toNanos();
      List<ManagedChannel> all;
      synchronized (this) {
        all = new ArrayList<>(live);
      }
      for (ManagedChannel channel : all) {
        if (!channel.awaitTermination(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS)) {
          return false;
        }
      }
      return true;
    }

    /** The self type of the forwarding builder above. */
    private abstract static class Counted extends ForwardingChannelBuilder2<Counted> {}
  }
}
