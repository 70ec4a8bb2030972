package dev.tether.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.common.net.HostAndPort;
import com.google.common.util.concurrent.RateLimiter;
import dev.tether.EventGrammar;
import dev.tether.PersistentConnection;
import dev.tether.grpc.ChannelFactory;
import dev.tether.grpc.Echo;
import dev.tether.grpc.GrpcConnection;
import dev.tether.grpc.GrpcConnector;
import dev.tether.grpc.PersistentChannel;
import dev.tether.grpc.RecordingFactory;
import dev.tether.grpc.Servers;
import dev.tether.testing.faults.FaultProxy;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Queue;
import java.util.Random;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Replicas killed and restarted, and their networks frozen and thawed (through a {@link
 * FaultProxy} each), at seeded random times while several threads call with deadlines.
 * No call may outlive its deadline by more than a small margin, the events must stay well-formed,
 * and after close every channel must be terminated and no thread of the library left.
 */
class ChaosTest {
  private static final long SEED = Long.getLong("chaos.seed", 20261121L);
  private static final Duration RUN = Duration.ofSeconds(20);
  /**
   * How late past its deadline a call may end: timers on two busy cores fire late by
   * milliseconds; a call that hangs is late by seconds.
   */
  private static final long MARGIN_MILLIS = 1_000;
  private static final int REPLICAS = 3;
  private static final int CALLERS = 4;

  @RegisterExtension final Servers servers = new Servers();
  private final Catalog catalog = new Catalog();

  /**
   * A replica that keeps its port across restarts and publishes itself while up, behind a {@link
   * FaultProxy} that clients reach it through.
   */
  private final class Replica {
    final String id;
    final int port;
    final FaultProxy proxy;
    volatile Server server;
    boolean frozen; // guarded by this

    Replica(String id) {
      this.id = id;
      this.server = servers.netty(id, 0);
      this.port = Servers.port(server);
      this.proxy = FaultProxy.to(port);
      catalog.publish(address());
    }

    HostAndPort address() {
      return proxy.address();
    }

    /** Kills the replica (it leaves the catalog first), or starts it again. */
    synchronized void toggle() {
      if (server.isShutdown()) {
        server = servers.netty(id, port);
        catalog.publish(address());
      } else {
        catalog.withdraw(address());
        server.shutdownNow();
      }
    }

    /**
     * Freezes the network to the replica (it stays in the catalog: nobody knows), or thaws it.
     */
    synchronized void freezeOrThaw() {
      if (frozen) {
        proxy.thaw();
      } else {
        proxy.freeze();
      }
      frozen = !frozen;
    }
  }

  private static Set<String> threadNames() {
    Set<String> names = new TreeSet<>();
    Thread.getAllStackTraces().keySet().forEach(t -> names.add(t.getName()));
    return names;
  }

  @Test
  void randomKillsAndRestarts_callsKeepTheirDeadlines_eventsStayWellFormed_nothingLeaks()
      throws Exception {
    Set<String> threadsBefore = threadNames();
    Random random = new Random(SEED);
    List<Replica> replicas = new ArrayList<>();
    for (int i = 0; i < REPLICAS; i++) {
      replicas.add(new Replica("replica-" + i));
    }
    Queue<String> problems = new ConcurrentLinkedQueue<>();
    EventGrammar<HostAndPort, GrpcConnection<HostAndPort>> events =
        new EventGrammar<>("chaos", true, problems, new AtomicInteger());
    RecordingFactory<HostAndPort> channels = new RecordingFactory<>(ChannelFactory.plaintext());
    PersistentConnection<HostAndPort, GrpcConnection<HostAndPort>> connection =
        GrpcConnector.builder((ChannelFactory<HostAndPort>) channels)
            .connectTimeout(Duration.ofSeconds(2))
            .shutdownGrace(Duration.ofMillis(500))
            .build()
            .persistentConnection("chaos")
            .addressLookup(catalog.lookup())
            .retryDelay(Duration.ofMillis(200))
            .onEvent(events)
            .build();
    Echo.Stub stub = new Echo.Stub(PersistentChannel.of(connection)).withWaitForReady();

    // The script: at seeded random times, one replica goes down or comes back, or its network
    // freezes or thaws; at the end every network thaws and every replica comes back.
    ScheduledExecutorService script = Executors.newSingleThreadScheduledExecutor();
    long at = 0;
    List<ScheduledFuture<?>> steps = new ArrayList<>();
    while ((at += 200 + random.nextInt(1300)) < RUN.toMillis() - 1000) {
      Replica victim = replicas.get(random.nextInt(REPLICAS));
      Runnable step = random.nextInt(3) == 0 ? victim::freezeOrThaw : victim::toggle;
      steps.add(script.schedule(step, at, TimeUnit.MILLISECONDS));
    }
    for (Replica replica : replicas) {
      steps.add(
          script.schedule(
              () -> {
                synchronized (replica) {
                  if (replica.frozen) {
                    replica.freezeOrThaw();
                  }
                  if (replica.server.isShutdown()) {
                    replica.toggle();
                  }
                }
              },
              RUN.toMillis() - 1000,
              TimeUnit.MILLISECONDS));
    }

    long end = System.nanoTime() + RUN.toNanos();
    ExecutorService callers = Executors.newFixedThreadPool(CALLERS);
    AtomicInteger succeeded = new AtomicInteger();
    ConcurrentHashMap<Status.Code, AtomicInteger> failures = new ConcurrentHashMap<>();
    ConcurrentHashMap<Status.Code, String> examples = new ConcurrentHashMap<>();
    List<Future<?>> running = new ArrayList<>();
    for (int c = 0; c < CALLERS; c++) {
      long callerSeed = random.nextLong();
      running.add(
          callers.submit(
              () -> {
                Random own = new Random(callerSeed);
                RateLimiter pace = RateLimiter.create(50); // calls per second per caller
                while (System.nanoTime() < end) {
                  pace.acquire();
                  long deadline = 200 + own.nextInt(600);
                  long began = System.nanoTime();
                  try {
                    stub.withDeadlineAfter(deadline, TimeUnit.MILLISECONDS).say("x");
                    succeeded.incrementAndGet();
                  } catch (StatusRuntimeException e) {
                    failures.computeIfAbsent(e.getStatus().getCode(), k -> new AtomicInteger()).incrementAndGet();
                    examples.putIfAbsent(e.getStatus().getCode(), String.valueOf(e.getStatus().getDescription()) + " / " + e.getStatus().getCause());
                  }
                  long took = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - began);
                  if (took > deadline + MARGIN_MILLIS) {
                    problems.add("a call with a " + deadline + " ms deadline took " + took + " ms");
                  }
                }
                return null;
              }));
    }
    for (Future<?> caller : running) {
      caller.get(RUN.toSeconds() + 30, TimeUnit.SECONDS);
    }
    callers.shutdown();
    for (ScheduledFuture<?> step : steps) {
      step.get(30, TimeUnit.SECONDS);
    }
    script.shutdown();
    assertTrue(script.awaitTermination(10, TimeUnit.SECONDS));
    assertTrue(callers.awaitTermination(10, TimeUnit.SECONDS));
    // After the chaos, with every replica up and reachable, calls succeed again.
    String after = stub.withDeadlineAfter(10, TimeUnit.SECONDS).say("after");
    assertTrue(after.startsWith("replica-") && after.endsWith(": after"), after);

    connection.close().get(30, TimeUnit.SECONDS);
    int eventsAtClose = events.count();
    replicas.forEach(replica -> replica.proxy.close());

    String summary =
        "seed " + SEED + ": " + steps.size() + " kills, restarts, freezes and thaws, " + succeeded + " calls ok, failures "
            + failures + " " + examples + ", " + events.connections() + " connections";
    assertEquals(List.of(), new ArrayList<>(problems), summary);
    // What a killed or frozen replica can do to a call: UNAVAILABLE (its transport went away, or
    // no replica is up), DEADLINE_EXCEEDED (waited for a connection, or an answer through a frozen
    // network, in vain), CANCELLED (the server's shutdownNow() reset the call's stream). Anything
    // else would be a bug.
    for (Status.Code code : failures.keySet()) {
      assertTrue(
          code == Status.Code.UNAVAILABLE
              || code == Status.Code.DEADLINE_EXCEEDED
              || code == Status.Code.CANCELLED,
          "unexpected failure " + code + "; " + summary);
    }
    assertTrue(succeeded.get() > 100, summary);
    assertTrue(events.connections() >= 2, summary); // it reconnected (how often depends on the seed)
    for (ManagedChannel channel : channels.created()) {
      assertTrue(channel.awaitTermination(10, TimeUnit.SECONDS), channel + " did not terminate");
    }
    // The library's only thread, the shared scheduler's, ends after two idle seconds.
    for (Thread thread : Thread.getAllStackTraces().keySet()) {
      if (thread.getName().startsWith("tether") && !threadsBefore.contains(thread.getName())) {
        thread.join(10_000);
        assertTrue(!thread.isAlive(), "a thread of the library was left: " + thread.getName());
      }
    }
    assertEquals(eventsAtClose, events.count(), "no event after close finished");
  }
}
