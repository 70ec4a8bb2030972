package dev.tether.grpc;

import static com.google.common.util.concurrent.Futures.immediateFuture;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.common.net.HostAndPort;
import com.google.common.util.concurrent.SettableFuture;
import dev.tether.PersistentConnection;
import dev.tether.RetryDelay;
import io.grpc.ManagedChannel;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** Failed attempts leak neither channels nor threads. */
class LeakTest {

  private static Set<String> threadNames() {
    Set<String> names = new TreeSet<>();
    for (Thread thread : Thread.getAllStackTraces().keySet()) {
      if (thread.isAlive()) {
        names.add(thread.getName());
      }
    }
    return names;
  }

  private static void failManyTimes(
      int attempts, RecordingFactory<HostAndPort> channels, ExecutorService executor)
      throws Exception {
    int port = FailureCausesTest.deadPort();
    AtomicInteger lookups = new AtomicInteger();
    SettableFuture<Void> enough = SettableFuture.create();
    PersistentConnection<HostAndPort, GrpcConnection<HostAndPort>> connection =
        GrpcConnector.builder((ChannelFactory<HostAndPort>) channels)
            // gRPC's shared executor is a cached pool whose idle threads live on for a minute:
            // pin the channels to a fixed pool, so that the thread count is exact.
            .customizer(builder -> builder.executor(executor).offloadExecutor(executor))
            .build()
            .persistentConnection("dead")
            .addressLookup(
                () -> {
                  // The lookup after the last attempt: every attempt before it has failed.
                  if (lookups.incrementAndGet() > attempts) {
                    enough.set(null);
                  }
                  return immediateFuture(HostAndPort.fromParts("127.0.0.1", port));
                })
            .retryDelay(RetryDelay.constant(Duration.ZERO))
            .logger(org.slf4j.helpers.NOPLogger.NOP_LOGGER)
            .build();
    enough.get(120, TimeUnit.SECONDS);
    connection.close().get(30, TimeUnit.SECONDS);
  }

  @Test
  void thousandFailedAttempts_thenClose_everyChannelTerminates_andNoThreadIsLeft() throws Exception {
    ThreadPoolExecutor executor =
        new ThreadPoolExecutor(2, 2, 0, TimeUnit.SECONDS, new LinkedBlockingQueue<>());
    executor.prestartAllCoreThreads();
    // Netty's shared event loops are released a second after their last channel goes: hold them
    // with one idle channel for the whole test, so that the runs below share them.
    ManagedChannel keeper =
        ChannelFactory.plaintext().newChannelBuilder(HostAndPort.fromParts("127.0.0.1", 9)).build();
    try {
      // Warm up: Netty's shared event loops and Tether's scheduler start on first use.
      failManyTimes(20, new RecordingFactory<>(ChannelFactory.plaintext()), executor);
      Set<String> before = threadNames();

      RecordingFactory<HostAndPort> channels = new RecordingFactory<>(ChannelFactory.plaintext());
      failManyTimes(1000, channels, executor);

      List<ManagedChannel> created = channels.created();
      assertTrue(created.size() >= 1000, "channels: " + created.size());
      for (ManagedChannel channel : created) {
        assertTrue(channel.awaitTermination(10, TimeUnit.SECONDS), channel + " did not terminate");
      }
      // Threads that other tests left behind may end meanwhile; none may have started.
      Set<String> after = threadNames();
      Set<String> started = new TreeSet<>(after);
      started.removeAll(before);
      assertEquals(Set.of(), started, "threads started by the attempts and still alive");
      assertTrue(after.size() <= before.size(), before + " -> " + after);
    } finally {
      keeper.shutdownNow();
      executor.shutdownNow();
    }
  }
}
