package dev.tether.it;

import dev.tether.grpc.Echo;
import dev.tether.grpc.Streams;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ClientCalls;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.LongSupplier;
import java.util.function.Supplier;

/**
 * Steady traffic on a channel, for as long as a test runs: threads that make unary calls one
 * after the other, and threads that run flow-controlled streams (client, server and
 * bidirectional, 20 messages each) one after the other. Records each call's outcome: its status,
 * the replica that answered a unary call, and how long it took.
 */
final class Traffic implements AutoCloseable {
  /** One call's outcome: its code, the replica that answered ("" if none or a stream), millis. */
  record Outcome(String kind, Status.Code code, String replica, long millis, String detail) {}

  private final ConcurrentLinkedQueue<Outcome> outcomes = new ConcurrentLinkedQueue<>();
  private long recorded; // guarded by this: the outcomes recorded so far
  private final Map<String, Long> answered = new java.util.HashMap<>(); // guarded by this: by replica
  private final AtomicBoolean stop = new AtomicBoolean();
  private final ExecutorService threads;
  private final List<Future<?>> loops = new ArrayList<>();

  /**
   * Starts {@code unaryThreads} unary callers and {@code streamThreads} streamers on {@code
   * channel}, each call with the options {@code options} gives at that moment.
   */
  Traffic(Channel channel, Supplier<CallOptions> options, int unaryThreads, int streamThreads) {
    threads = Executors.newFixedThreadPool(unaryThreads + streamThreads);
    for (int i = 0; i < unaryThreads; i++) {
      loops.add(threads.submit(() -> unaryLoop(channel, options)));
    }
    for (int i = 0; i < streamThreads; i++) {
      loops.add(threads.submit(() -> streamLoop(channel, options)));
    }
  }

  /** Traffic whose every call waits for ready, with a deadline of {@code deadlineMillis} from its start. */
  static Traffic waitForReady(Channel channel, long deadlineMillis, int unaryThreads, int streamThreads) {
    return new Traffic(
        channel,
        () -> CallOptions.DEFAULT.withWaitForReady().withDeadlineAfter(deadlineMillis, TimeUnit.MILLISECONDS),
        unaryThreads,
        streamThreads);
  }

  /**
   * Of {@code failed}, those that a replica's crash does not explain: a code not in {@code
   * allowed}, or a call that outlived {@code deadlineMillis} by more than 1 s (timers on a busy
   * machine fire late by milliseconds; a call that hangs is late by seconds).
   */
  static List<Outcome> unexplained(List<Outcome> failed, java.util.Set<Status.Code> allowed, long deadlineMillis) {
    return failed.stream()
        .filter(o -> !allowed.contains(o.code()) || o.millis() > deadlineMillis + 1_000)
        .toList();
  }

  private Void unaryLoop(Channel channel, Supplier<CallOptions> options) {
    while (!stop.get()) {
      long started = System.nanoTime();
      try {
        String answer = ClientCalls.blockingUnaryCall(channel, Echo.SAY, options.get(), "x");
        record("unary", Status.Code.OK, answer.substring(0, answer.indexOf(':')), started, "");
      } catch (StatusRuntimeException e) {
        record("unary", e.getStatus().getCode(), "", started, e.getStatus().toString());
      }
    }
    return null;
  }

  private Void streamLoop(Channel channel, Supplier<CallOptions> options) {
    int round = 0;
    while (!stop.get()) {
      long started = System.nanoTime();
      String kind = List.of("client-stream", "server-stream", "bidi-stream").get(round++ % 3);
      CompletableFuture<?> call =
          switch (kind) {
            case "client-stream" -> Streams.clientStream(channel, options.get(), 20);
            case "server-stream" -> Streams.serverStream(channel, options.get(), 20);
            default -> Streams.bidiStream(channel, options.get(), 20);
          };
      try {
        Object got = call.get(30, TimeUnit.SECONDS);
        boolean complete = got instanceof Integer count ? count == 20 : true;
        record(kind, complete ? Status.Code.OK : Status.Code.DATA_LOSS, "", started, "got " + got);
      } catch (ExecutionException e) {
        Status status = Status.fromThrowable(e.getCause());
        record(kind, status.getCode(), "", started, status.toString());
      } catch (Exception e) {
        record(kind, Status.Code.UNKNOWN, "", started, e.toString());
      }
    }
    return null;
  }

  private void record(String kind, Status.Code code, String replica, long started, String detail) {
    outcomes.add(
        new Outcome(kind, code, replica, (System.nanoTime() - started) / 1_000_000, detail));
    synchronized (this) {
      recorded++;
      answered.merge(replica, 1L, Long::sum);
      notifyAll();
    }
  }

  /** How many unary calls {@code replica} answered so far. */
  synchronized long answeredBy(String replica) {
    return answered.getOrDefault(replica, 0L);
  }

  /** Waits (bounded) until {@code replica} answered {@code count} unary calls; false if it did not. */
  boolean awaitAnswers(String replica, long count, long timeoutMillis) throws InterruptedException {
    return awaitCount(() -> answered.getOrDefault(replica, 0L), count, timeoutMillis);
  }

  /** Waits (bounded) until {@code count} calls have ended in all; false if they did not. */
  boolean awaitOutcomes(long count, long timeoutMillis) throws InterruptedException {
    return awaitCount(() -> recorded, count, timeoutMillis);
  }

  /** Waits (bounded) until {@code counted}, read under this lock, reaches {@code count}. */
  private synchronized boolean awaitCount(LongSupplier counted, long count, long timeoutMillis)
      throws InterruptedException {
    long end = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMillis);
    while (counted.getAsLong() < count) {
      long left = TimeUnit.NANOSECONDS.toMillis(end - System.nanoTime());
      if (left <= 0) {
        return false;
      }
      wait(left); // woken by each recorded outcome
    }
    return true;
  }

  /** The outcomes that are not OK. */
  List<Outcome> failures() {
    return outcomes.stream().filter(o -> o.code() != Status.Code.OK).toList();
  }

  List<Outcome> outcomes() {
    return List.copyOf(outcomes);
  }

  /** Outcomes counted by kind and code, for messages. */
  String summary() {
    Map<String, Integer> counts = new TreeMap<>();
    outcomes.forEach(o -> counts.merge(o.kind() + " " + o.code(), 1, Integer::sum));
    return counts.toString();
  }

  /** Stops starting calls and waits for the running ones to end. */
  @Override
  public void close() throws Exception {
    stop.set(true);
    try {
      for (Future<?> loop : loops) {
        loop.get(60, TimeUnit.SECONDS);
      }
    } finally {
      threads.shutdownNow();
    }
  }
}
