package dev.tether.benchmarks;

import com.google.common.util.concurrent.Futures;
import com.google.common.util.concurrent.ListenableFuture;
import com.google.common.util.concurrent.SettableFuture;
import dev.tether.Closable;
import dev.tether.PersistentConnection;
import dev.tether.testing.IdleConnection;
import java.util.concurrent.TimeUnit;
import org.jspecify.annotations.Nullable;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

/** connected() and currentConnection() on a connected handle: time and allocation per call. */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
public class HandleBenchmark {

  private @Nullable PersistentConnection<String, IdleConnection> connection;

  @Setup(Level.Trial)
  public void setUp() throws Exception {
    connection =
        PersistentConnection.<String, IdleConnection>builder("handle")
            .addressLookup(() -> Futures.immediateFuture("a"))
            .connector(address -> Futures.immediateFuture(new IdleConnection()))
            .logger(org.slf4j.helpers.NOPLogger.NOP_LOGGER)
            .build();
    connection.connected().get(10, TimeUnit.SECONDS);
  }

  @TearDown(Level.Trial)
  public void tearDown() throws Exception {
    if (connection != null) {
      connection.close().get(10, TimeUnit.SECONDS);
    }
  }

  @Benchmark
  public ListenableFuture<IdleConnection> connected() {
    return java.util.Objects.requireNonNull(connection).connected();
  }

  @Benchmark
  public @Nullable IdleConnection currentConnection() {
    return java.util.Objects.requireNonNull(connection).currentConnection();
  }

  @Benchmark
  public dev.tether.ConnectionState<String, IdleConnection> state() {
    return java.util.Objects.requireNonNull(connection).state();
  }
}
