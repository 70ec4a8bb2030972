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
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.ForwardingChannelBuilder2;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.Metadata;
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
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;

/**
 * Reliability over a long run: three loopback Netty replicas, each behind a {@link FaultProxy},
 * killed and restarted, their networks frozen and thawed and their connections reset, at seeded
 * random times or moved off with a handover and a graceful shutdown, while four threads make
 * unary calls, two make server-streaming calls, one makes flow-controlled bidirectional streams and
 * one makes long server streams that another thread cancels, all
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
  /** Bidirectional streams that send only while the call is ready (client flow control). */
  private static final int CHAT_CALLERS = 1;
  /** Long server streams that another thread cancels at a random moment. */
  private static final int CANCEL_CALLERS = 1;
  private static final int CALLERS = UNARY_CALLERS + STREAM_CALLERS + CHAT_CALLERS + CANCEL_CALLERS;
  private static final int CHAT_MESSAGES = 200;
  /** About twice what one stream delivers in the 0 to 10 ms before its cancel, on loopback. */
  private static final int CANCELLED_STREAM_MESSAGES = 2_000;
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
    Map<Kind, LongAdder> callsByKind = new ConcurrentHashMap<>();
    LongAdder late = new LongAdder();
    AtomicLong latest = new AtomicLong();
    Map<Status.Code, LongAdder> failures = new ConcurrentHashMap<>();
    long end = System.nanoTime() + length.toNanos();
    ExecutorService callers = Executors.newFixedThreadPool(CALLERS + 1);
    ScheduledExecutorService cancellers = Executors.newSingleThreadScheduledExecutor();
    List<Future<?>> running = new ArrayList<>();
    for (int c = 0; c < CALLERS; c++) {
      Kind kind =
          c < UNARY_CALLERS
              ? Kind.UNARY
              : c < UNARY_CALLERS + STREAM_CALLERS
                  ? Kind.SERVER_STREAM
                  : c < UNARY_CALLERS + STREAM_CALLERS + CHAT_CALLERS ? Kind.CHAT : Kind.CANCELLED;
      long seed = SEED + c;
      running.add(
          callers.submit(
              () -> {
                Random own = new Random(seed);
                Echo.Stub stub = new Echo.Stub(channel);
                while (System.nanoTime() < end) {
                  long deadline =
                      kind == Kind.UNARY ? 200 + own.nextInt(800) : 1000 + own.nextInt(2000);
                  long began = System.nanoTime();
                  try {
                    if (kind == Kind.CHAT) {
                      chat(channel, deadline);
                    } else if (kind == Kind.CANCELLED) {
                      cancelledStream(channel, cancellers, own.nextInt(10), deadline);
                    } else if (kind == Kind.SERVER_STREAM) {
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
                  callsByKind.computeIfAbsent(kind, k -> new LongAdder()).increment();
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
                switch (chaos.nextInt(4)) {
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
                  case 2 -> {
                    proxies.get(i).resetAll();
                    faults.add("reset");
                  }
                  default -> {
                    // A planned move: hand over off the serving replica, then stop it gracefully.
                    int serving = serving(connection, proxies);
                    if (serving >= 0 && movedOff(connection, proxies.get(serving).address())) {
                      replicas.get(serving).stopGracefully();
                      TimeUnit.MILLISECONDS.sleep(1000 + chaos.nextInt(4000));
                      replicas.get(serving).start();
                      faults.add("move");
                    }
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
          "soak at %4ds: %,d calls %s (%,d since the last report), failures %s, %d late by more than %d ms"
              + " (worst %d ms), heap after GC %.1f MiB, %d threads, %d open channels, %d faults%n",
          TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - started),
          total,
          byKind(callsByKind),
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
    cancellers.shutdown();
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

  /** What one caller thread does, over and over. */
  private enum Kind {
    UNARY,
    SERVER_STREAM,
    CHAT,
    CANCELLED
  }

  /** The index of the proxy the connection is connected through, or -1. */
  private static int serving(
      PersistentConnection<HostAndPort, GrpcConnection<HostAndPort>> connection,
      List<FaultProxy> proxies) {
    HostAndPort address = connection.state().address();
    for (int i = 0; i < proxies.size(); i++) {
      if (proxies.get(i).address().equals(address)) {
        return i;
      }
    }
    return -1;
  }

  /**
   * Hands over until the connection is off {@code from} (the lookup is random, so it may yield
   * the same replica); false if it could not move in a few tries.
   */
  private static boolean movedOff(
      PersistentConnection<HostAndPort, GrpcConnection<HostAndPort>> connection, HostAndPort from)
      throws InterruptedException {
    for (int tries = 0; tries < 10; tries++) {
      try {
        GrpcConnection<HostAndPort> now = connection.handOver().get(10, TimeUnit.SECONDS);
        if (!now.address().equals(from)) {
          return true;
        }
      } catch (ExecutionException | TimeoutException e) {
        return false; // the handover failed or the connection dropped meanwhile: no planned move
      }
    }
    return false;
  }

  /**
   * A bidirectional stream that sends {@link #CHAT_MESSAGES} messages only while the call is
   * ready, asks for one answer at a time, and half-closes once all are sent; throws the call's
   * status unless every answer came. Waits for the call's end, at most a second past its
   * deadline (a call that does not end by then counts as late).
   */
  private static void chat(Channel channel, long deadlineMillis) throws InterruptedException {
    ClientCall<String, String> call = waitingCall(channel, Echo.CHAT, deadlineMillis);
    CompletableFuture<Status> closed = new CompletableFuture<>();
    AtomicInteger answers = new AtomicInteger();
    call.start(
        new ClientCall.Listener<String>() {
          private int sent; // on the call's serialized listener thread

          @Override
          public void onReady() {
            while (call.isReady() && sent < CHAT_MESSAGES) {
              call.sendMessage(Integer.toString(sent++));
              if (sent == CHAT_MESSAGES) {
                call.halfClose();
              }
            }
          }

          @Override
          public void onMessage(String message) {
            answers.incrementAndGet();
            call.request(1);
          }

          @Override
          public void onClose(Status status, Metadata trailers) {
            closed.complete(status);
          }
        },
        new Metadata());
    call.request(1);
    Status status = awaitEnd(call, closed, deadlineMillis);
    if (!status.isOk()) {
      throw status.asRuntimeException();
    }
    if (answers.get() != CHAT_MESSAGES) {
      throw Status.DATA_LOSS
          .withDescription(answers.get() + " answers to " + CHAT_MESSAGES + " messages")
          .asRuntimeException();
    }
  }

  /**
   * A server stream, read one message at a time, that another thread cancels after {@code
   * cancelAfterMillis}; throws unless it ended CANCELLED or, when the stream was done before
   * the cancel, OK. Waits for the call's end, at most a second past its deadline.
   */
  private static void cancelledStream(
      Channel channel, ScheduledExecutorService cancellers, int cancelAfterMillis, long deadlineMillis)
      throws InterruptedException {
    ClientCall<String, String> call = waitingCall(channel, Echo.REPEAT, deadlineMillis);
    CompletableFuture<Status> closed = new CompletableFuture<>();
    call.start(
        new ClientCall.Listener<String>() {
          @Override
          public void onMessage(String message) {
            call.request(1);
          }

          @Override
          public void onClose(Status status, Metadata trailers) {
            closed.complete(status);
          }
        },
        new Metadata());
    call.sendMessage(Integer.toString(CANCELLED_STREAM_MESSAGES));
    call.halfClose();
    call.request(1);
    cancellers.schedule(
        () -> call.cancel("the soak cancels", null), cancelAfterMillis, TimeUnit.MILLISECONDS);
    Status status = awaitEnd(call, closed, deadlineMillis);
    if (!status.isOk() && status.getCode() != Status.Code.CANCELLED) {
      throw status.asRuntimeException();
    }
  }

  /** A new wait-for-ready call of {@code method} with a deadline {@code deadlineMillis} away. */
  private static ClientCall<String, String> waitingCall(
      Channel channel, io.grpc.MethodDescriptor<String, String> method, long deadlineMillis) {
    return channel.newCall(
        method,
        CallOptions.DEFAULT.withWaitForReady().withDeadlineAfter(deadlineMillis, TimeUnit.MILLISECONDS));
  }

  /**
   * The status the call ended with, waiting at most a second past its deadline; a call that has
   * not ended by then is cancelled and reported as {@code late}.
   */
  private static Status awaitEnd(
      ClientCall<?, ?> call, CompletableFuture<Status> closed, long deadlineMillis)
      throws InterruptedException {
    try {
      return closed.get(deadlineMillis + 1000, TimeUnit.MILLISECONDS);
    } catch (ExecutionException e) {
      throw new IllegalStateException(e);
    } catch (TimeoutException e) {
      call.cancel("the soak gave up on a call that outlived its deadline", null);
      return Status.UNKNOWN.withDescription("late: no end a second past the deadline");
    }
  }

  private static Map<String, Long> countOf(List<String> faults) {
    Map<String, Long> counts = new TreeMap<>();
    synchronized (faults) {
      faults.forEach(f -> counts.merge(f, 1L, Long::sum));
    }
    return counts;
  }

  private static Map<Kind, Long> byKind(Map<Kind, LongAdder> calls) {
    Map<Kind, Long> sorted = new TreeMap<>();
    calls.forEach((kind, n) -> sorted.put(kind, n.sum()));
    return sorted;
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
