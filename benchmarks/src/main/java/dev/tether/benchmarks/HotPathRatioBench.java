package dev.tether.benchmarks;

import com.google.common.util.concurrent.Futures;
import dev.tether.PersistentConnection;
import dev.tether.grpc.ChannelFactory;
import dev.tether.grpc.Echo;
import dev.tether.grpc.GrpcConnection;
import dev.tether.grpc.GrpcConnector;
import dev.tether.grpc.PersistentChannel;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ConnectivityState;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.Server;
import io.grpc.inprocess.InProcessServerBuilder;
import io.grpc.stub.ClientCalls;
import java.io.File;
import java.lang.management.GarbageCollectorMXBean;
import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.jspecify.annotations.Nullable;

/**
 * The hot-path throughput ratio: unary calls through Tether's {@link PersistentChannel} against
 * the same calls through a raw {@link ManagedChannel}, measured in one JVM with the two paths
 * interleaved, so that the drift of a small machine between JVMs (or over time) hits both alike.
 *
 * <p>Each case (transport x call kind) runs in a JVM of its own. After a warm-up in which the two
 * paths alternate, it sizes a batch to about {@value #BATCH_MILLIS} ms of raw calls and runs
 * rounds of one batch raw and one batch through Tether, in a random order per round, made by one
 * caller thread (or by several, {@code @<threads>} after a case's name, each making an equal share
 * of a batch on the same channel).
 * Per round the ratio is Tether's throughput over the raw channel's; the figure of record
 * is the median of those ratios, with its 95% confidence interval, the quartiles, min and max.
 * The same is printed for CPU time (the inverse ratio of CPU time per call, summed over all live
 * Java threads), which a busy machine disturbs less than wall-clock time. CPU time and allocation
 * per call come from the JVM's per-thread counters: the caller threads', and the sum over all
 * live Java threads (which adds the server and Netty's event loops; GC threads are not Java
 * threads).
 *
 * <p>Both sides make the same calls: the same method, request ({@value #REQUEST_BYTES} bytes) and
 * call options ({@link CallOptions#DEFAULT}, or with {@code withWaitForReady()}), to the same
 * server, on channels built the same way (the raw one from the same {@link ChannelFactory} and
 * customizer, with idle mode off as {@link GrpcConnector} does).
 */
final class HotPathRatioBench {
  static final long BATCH_MILLIS = 100;
  static final int REQUEST_BYTES = 32;
  private static final String REQUEST = "0123456789abcdef".repeat(REQUEST_BYTES / 16);
  private static final String IN_PROCESS_NAME = "hotpath-ratio";
  private static final String SERVER_ID = "s";

  enum Transport {
    INPROCESS("inprocess"),
    NETTY("netty");

    final String label;

    Transport(String label) {
      this.label = label;
    }
  }

  enum Kind {
    FAIL_FAST("fail-fast", false),
    WAIT_FOR_READY("wait-for-ready", true);

    final String label;
    final boolean waitForReady;

    Kind(String label, boolean waitForReady) {
      this.label = label;
      this.waitForReady = waitForReady;
    }

    /** The call options of both sides. */
    CallOptions options() {
      return waitForReady ? CallOptions.DEFAULT.withWaitForReady() : CallOptions.DEFAULT;
    }
  }

  /**
   * A transport, a call kind and the number of caller threads: {@code netty/wait-for-ready} has
   * one, {@code netty/wait-for-ready@4} four, which share the channel on each side as a service's
   * request threads do.
   */
  record Case(Transport transport, Kind kind, int threads) {
    String label() {
      return transport.label + "/" + kind.label + (threads == 1 ? "" : "@" + threads);
    }

    /** The four cases of one caller thread. */
    static List<Case> all() {
      List<Case> cases = new ArrayList<>();
      for (Transport transport : Transport.values()) {
        for (Kind kind : Kind.values()) {
          cases.add(new Case(transport, kind, 1));
        }
      }
      return cases;
    }

    static Case parse(String label) {
      int at = label.indexOf('@');
      String base = at < 0 ? label : label.substring(0, at);
      int threads = 1;
      if (at >= 0) {
        try {
          threads = Integer.parseInt(label.substring(at + 1));
        } catch (NumberFormatException e) {
          threads = 0;
        }
        if (threads < 1 || threads > 64) {
          throw new IllegalArgumentException(
              "threads in " + label + " must be a number from 1 to 64");
        }
      }
      for (Case c : all()) {
        if (c.label().equals(base)) {
          return new Case(c.transport(), c.kind(), threads);
        }
      }
      throw new IllegalArgumentException(
          "unknown case " + label + "; one of " + all() + ", each optionally @<threads>");
    }
  }

  /**
   * Quick: warm-up of 2 s and 10,000 calls each side, 20 rounds; full: 10 s and 50,000 calls each
   * side, 100 rounds.
   */
  record Settings(long warmupMillis, long warmupCalls, int rounds) {
    static Settings of(boolean quick) {
      return quick ? new Settings(2_000, 10_000, 20) : new Settings(10_000, 50_000, 100);
    }
  }

  private HotPathRatioBench() {}

  /**
   * Runs every case whose label is in {@code only} (all if empty), each in a new JVM with this
   * JVM's options and class path.
   */
  static void run(boolean quick, List<String> only) throws Exception {
    List<Case> cases = only.isEmpty() ? Case.all() : only.stream().map(Case::parse).toList();
    Settings settings = Settings.of(quick);
    System.out.printf(
        Locale.ROOT,
        "hotpath-ratio: one JVM per case, warm-up of %,d ms and %,d calls each side, %d rounds of"
            + " ~%d ms raw + ~%d ms Tether, %d-byte requests%n",
        settings.warmupMillis(),
        settings.warmupCalls(),
        settings.rounds(),
        BATCH_MILLIS,
        BATCH_MILLIS,
        REQUEST_BYTES);
    for (Case c : cases) {
      List<String> command = new ArrayList<>();
      command.add(System.getProperty("java.home") + File.separator + "bin" + File.separator + "java");
      command.addAll(ManagementFactory.getRuntimeMXBean().getInputArguments());
      command.add("-cp");
      command.add(System.getProperty("java.class.path"));
      command.add(HotPathRatioBench.class.getName());
      command.add(c.label());
      command.add(quick ? "--quick" : "--full");
      Process process = new ProcessBuilder(command).inheritIO().start();
      int exit = process.waitFor();
      if (exit != 0) {
        throw new IllegalStateException("case " + c.label() + " exited with " + exit);
      }
    }
  }

  /** One case in this JVM: {@code HotPathRatioBench <transport/kind> [--quick|--full]}. */
  public static void main(String[] args) throws Exception {
    if (args.length == 0) {
      System.err.println("usage: HotPathRatioBench <" + Case.all() + "> [--quick|--full]");
      System.exit(2);
    }
    Case c = Case.parse(args[0]);
    Settings settings = Settings.of(Arrays.asList(args).contains("--quick"));
    Paths paths = Paths.open(c.transport());
    ExecutorService callers =
        Executors.newFixedThreadPool(
            c.threads(),
            runnable -> {
              Thread thread = new Thread(runnable, "caller");
              thread.setDaemon(true);
              return thread;
            });
    try {
      new Measurement(c, settings, paths, callers).run();
    } finally {
      callers.shutdownNow();
      paths.close();
    }
    System.exit(0); // gRPC's and Netty's shared pools would keep the JVM a while longer
  }

  /** The server, the raw channel and the persistent connection of one transport. */
  static final class Paths {
    private final @Nullable Server inProcessServer;
    private final @Nullable Replica replica;
    final ManagedChannel raw;
    final PersistentConnection<?, ?> connection;
    final Channel tether;

    private Paths(
        @Nullable Server inProcessServer,
        @Nullable Replica replica,
        ManagedChannel raw,
        PersistentConnection<?, ?> connection,
        Channel tether) {
      this.inProcessServer = inProcessServer;
      this.replica = replica;
      this.raw = raw;
      this.connection = connection;
      this.tether = tether;
    }

    static Paths open(Transport transport) throws Exception {
      if (transport == Transport.INPROCESS) {
        Server server =
            InProcessServerBuilder.forName(IN_PROCESS_NAME)
                .directExecutor()
                .addService(Echo.service(SERVER_ID))
                .build()
                .start();
        return open(server, null, ChannelFactory.inProcess(), IN_PROCESS_NAME, b -> b.directExecutor());
      }
      Replica replica = new Replica(SERVER_ID);
      return open(null, replica, ChannelFactory.plaintext(), replica.address(), b -> {});
    }

    private static <A> Paths open(
        @Nullable Server server,
        @Nullable Replica replica,
        ChannelFactory<A> factory,
        A address,
        Consumer<ManagedChannelBuilder<?>> customizer)
        throws Exception {
      // The raw channel is built as GrpcConnector builds its own: factory, customizer, idle off.
      ManagedChannelBuilder<?> builder = factory.newChannelBuilder(address);
      customizer.accept(builder);
      ManagedChannel raw = builder.idleTimeout(30, TimeUnit.DAYS).build();
      PersistentConnection<A, GrpcConnection<A>> connection =
          GrpcConnector.builder(factory)
              .customizer(customizer)
              .build()
              .persistentConnection("hotpath-ratio")
              .addressLookup(() -> Futures.immediateFuture(address))
              .logger(org.slf4j.helpers.NOPLogger.NOP_LOGGER)
              .build();
      connection.connected().get(10, TimeUnit.SECONDS);
      awaitReady(raw);
      return new Paths(server, replica, raw, connection, PersistentChannel.of(connection));
    }

    private static void awaitReady(ManagedChannel channel) throws InterruptedException {
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
      while (channel.getState(true) != ConnectivityState.READY) {
        if (System.nanoTime() - deadline > 0) {
          throw new IllegalStateException("raw channel not READY: " + channel.getState(false));
        }
        TimeUnit.MILLISECONDS.sleep(1);
      }
    }

    void close() throws Exception {
      connection.close().get(10, TimeUnit.SECONDS);
      raw.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
      if (inProcessServer != null) {
        inProcessServer.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
      }
      if (replica != null) {
        replica.kill();
      }
    }
  }

  /**
   * What one batch took: wall-clock time, CPU time of the caller threads and of all live Java
   * threads, bytes allocated by the same, and the GCs that ran.
   */
  record Batch(
      long nanos,
      long callerCpuNanos,
      long allCpuNanos,
      long callerBytes,
      long allBytes,
      long gcCount) {}

  /** The interleaved measurement of one case. */
  static final class Measurement {
    private final Case c;
    private final Settings settings;
    private final Channel raw;
    private final Channel tether;
    private final CallOptions options;
    /** Where a batch's calls run: the case's caller threads, each making its share of them. */
    private final ExecutorService callers;
    private final com.sun.management.ThreadMXBean threads =
        (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
    private final List<GarbageCollectorMXBean> collectors =
        ManagementFactory.getGarbageCollectorMXBeans();
    private final String expected = SERVER_ID + ": " + REQUEST;
    /** Answer lengths, summed so that no call's result goes unused, and the calls made. */
    private long answered;
    private long calls;

    Measurement(Case c, Settings settings, Paths paths, ExecutorService callers) {
      this.c = c;
      this.callers = callers;
      this.settings = settings;
      this.raw = paths.raw;
      this.tether = paths.tether;
      this.options = c.kind().options();
    }

    void run() {
      check(raw);
      check(tether);
      int size = warmUp();
      List<Batch> raws = new ArrayList<>();
      List<Batch> tethers = new ArrayList<>();
      // The order within a round is random (seeded: the same every run), not alternating: a GC
      // that comes every few batches would otherwise land on the same side each time.
      SplittableRandom order = new SplittableRandom(42);
      for (int round = 0; round < settings.rounds(); round++) {
        if (order.nextBoolean()) {
          raws.add(batch(raw, size));
          tethers.add(batch(tether, size));
        } else {
          tethers.add(batch(tether, size));
          raws.add(batch(raw, size));
        }
      }
      report(size, raws, tethers);
      if (answered != calls * expected.length()) {
        throw new IllegalStateException("answers went missing: " + answered + " characters");
      }
    }

    private void check(Channel channel) {
      String answer = ClientCalls.blockingUnaryCall(channel, Echo.SAY, options, REQUEST);
      if (!answer.equals(expected)) {
        throw new IllegalStateException("unexpected answer " + answer);
      }
      answered += answer.length();
      calls++;
    }

    /**
     * Alternates small batches for the warm-up time and at least the warm-up calls per side (but
     * not beyond three times that time), then returns a batch size of about {@link #BATCH_MILLIS}
     * ms at the raw channel's throughput over the last ten warm-up batches.
     */
    private int warmUp() {
      int size = 200;
      long start = System.nanoTime();
      long enough = TimeUnit.MILLISECONDS.toNanos(settings.warmupMillis());
      long perSide = 0;
      List<Batch> recent = new ArrayList<>();
      while (true) {
        long elapsed = System.nanoTime() - start;
        if ((elapsed >= enough && perSide >= settings.warmupCalls()) || elapsed >= 3 * enough) {
          break;
        }
        recent.add(batch(raw, size));
        batch(tether, size);
        perSide += size;
      }
      long nanos = 0;
      List<Batch> last = recent.subList(Math.max(0, recent.size() - 10), recent.size());
      for (Batch b : last) {
        nanos += b.nanos();
      }
      double perSecond = (double) size * last.size() * 1e9 / Math.max(1, nanos);
      long wanted = Math.round(perSecond * BATCH_MILLIS / 1000.0);
      System.out.printf(
          Locale.ROOT,
          "hotpath-ratio %-25s warmed up with %,d calls each side in %,d ms%n",
          c.label(),
          perSide,
          TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start));
      long rounded = Math.max(100, roundTwoDigits(wanted));
      return (int) (rounded - rounded % c.threads()); // an equal share per caller thread
    }

    private static long roundTwoDigits(long n) {
      long scale = 1;
      while (n >= 100 * scale) {
        scale *= 10;
      }
      return Math.round((double) n / scale) * scale;
    }

    private long gcCount() {
      long count = 0;
      for (GarbageCollectorMXBean collector : collectors) {
        count += Math.max(0, collector.getCollectionCount());
      }
      return count;
    }

    /** Bytes allocated and CPU time used so far by all live Java threads (GC's are not). */
    private long[] allThreads() {
      long[] ids = threads.getAllThreadIds();
      long bytes = 0;
      for (long b : threads.getThreadAllocatedBytes(ids)) {
        bytes += Math.max(0, b);
      }
      long cpu = 0;
      for (long t : threads.getThreadCpuTime(ids)) {
        cpu += Math.max(0, t);
      }
      return new long[] {bytes, cpu};
    }

    /**
     * Runs {@code size} calls on {@code channel}, an equal share on each caller thread, and
     * returns what they took; the callers' CPU time and bytes are summed over the caller threads.
     */
    private Batch batch(Channel channel, int size) {
      int share = size / c.threads();
      long gcBefore = gcCount();
      long[] allBefore = allThreads();
      long start = System.nanoTime();
      List<Future<long[]>> shares = new ArrayList<>();
      for (int t = 0; t < c.threads(); t++) {
        shares.add(callers.submit(() -> calls(channel, share)));
      }
      long sum = 0;
      long callerCpu = 0;
      long callerBytes = 0;
      for (Future<long[]> done : shares) {
        long[] caller;
        try {
          caller = done.get();
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          throw new IllegalStateException("interrupted", e);
        } catch (ExecutionException e) {
          throw new IllegalStateException("a caller failed", e.getCause());
        }
        sum += caller[0];
        callerCpu += caller[1];
        callerBytes += caller[2];
      }
      long nanos = System.nanoTime() - start;
      long[] allAfter = allThreads();
      long gcs = gcCount() - gcBefore;
      answered += sum;
      calls += (long) share * c.threads();
      return new Batch(
          nanos,
          callerCpu,
          allAfter[1] - allBefore[1],
          callerBytes,
          allAfter[0] - allBefore[0],
          gcs);
    }

    /**
     * {@code count} calls on this caller thread: the answers' length, and the CPU time and bytes
     * the thread spent on them.
     */
    private long[] calls(Channel channel, int count) {
      long cpuBefore = threads.getCurrentThreadCpuTime();
      long bytesBefore = threads.getCurrentThreadAllocatedBytes();
      long sum = 0;
      for (int i = 0; i < count; i++) {
        sum += ClientCalls.blockingUnaryCall(channel, Echo.SAY, options, REQUEST).length();
      }
      return new long[] {
        sum,
        threads.getCurrentThreadCpuTime() - cpuBefore,
        threads.getCurrentThreadAllocatedBytes() - bytesBefore
      };
    }

    private void report(int size, List<Batch> raws, List<Batch> tethers) {
      int rounds = raws.size();
      double[] throughput = new double[rounds];
      double[] cpu = new double[rounds];
      for (int i = 0; i < rounds; i++) {
        throughput[i] = (double) raws.get(i).nanos() / tethers.get(i).nanos();
        cpu[i] = (double) raws.get(i).allCpuNanos() / tethers.get(i).allCpuNanos();
      }
      String label = c.label();
      System.out.printf(
          Locale.ROOT,
          "hotpath-ratio %-25s %d rounds of %,d calls each side, %d caller thread(s)%n",
          label,
          rounds,
          size,
          c.threads());
      ratio(label, "calls/s", throughput);
      ratio(label, "1/cpu", cpu);
      side(label, "raw", size, raws);
      side(label, "tether", size, tethers);
    }

    /** Prints the median of per-round ratios tether/raw, its 95% CI, quartiles, min and max. */
    private static void ratio(String label, String what, double[] ratios) {
      double[] sorted = ratios.clone();
      Arrays.sort(sorted);
      int n = sorted.length;
      // A distribution-free 95% confidence interval of the median: the order statistics of
      // ranks n/2 - 0.98 sqrt(n) and 1 + n/2 + 0.98 sqrt(n), rounded outwards (the normal
      // approximation of the binomial).
      double spread = 0.98 * Math.sqrt(n);
      int lowRank = (int) Math.floor(n / 2.0 - spread);
      int highRank = (int) Math.ceil(1 + n / 2.0 + spread);
      System.out.printf(
          Locale.ROOT,
          "hotpath-ratio %-25s tether/raw %-7s median %.3f (95%% CI %.3f-%.3f, quartiles"
              + " %.3f-%.3f, min %.3f, max %.3f)%n",
          label,
          what,
          quantile(sorted, 0.5),
          sorted[Math.max(0, lowRank - 1)],
          sorted[Math.min(n - 1, highRank - 1)],
          quantile(sorted, 0.25),
          quantile(sorted, 0.75),
          sorted[0],
          sorted[n - 1]);
    }

    private static void side(String label, String name, int size, List<Batch> batches) {
      long total = (long) size * batches.size();
      long nanos = 0;
      long callerCpu = 0;
      long allCpu = 0;
      long callerBytes = 0;
      long allBytes = 0;
      long gcs = 0;
      for (Batch b : batches) {
        nanos += b.nanos();
        callerCpu += b.callerCpuNanos();
        allCpu += b.allCpuNanos();
        callerBytes += b.callerBytes();
        allBytes += b.allBytes();
        gcs += b.gcCount();
      }
      System.out.printf(
          Locale.ROOT,
          "hotpath-ratio %-25s %-6s %,9.0f calls/s; per call: CPU %,7.2f us caller, %,7.2f us"
              + " all threads; %,8.1f B caller, %,8.1f B all threads; %d GCs%n",
          label,
          name,
          total * 1e9 / nanos,
          callerCpu / 1e3 / total,
          allCpu / 1e3 / total,
          (double) callerBytes / total,
          (double) allBytes / total,
          gcs);
    }

    /** The {@code q} quantile of sorted {@code values}, interpolated between neighbours. */
    static double quantile(double[] sorted, double q) {
      double position = q * (sorted.length - 1);
      int low = (int) Math.floor(position);
      int high = Math.min(sorted.length - 1, low + 1);
      return sorted[low] + (sorted[high] - sorted[low]) * (position - low);
    }
  }
}
