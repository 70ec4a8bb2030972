package dev.tether.grpc;

import com.google.common.util.concurrent.ThreadFactoryBuilder;
import io.grpc.CallOptions;
import io.grpc.ClientCall;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Where the callbacks of calls through a {@link PersistentChannel} run.
 *
 * <p>A call's callbacks run on the executor of its call options. Without one they run on a pool
 * that the adapter shares, as gRPC's channels do with their own: daemon threads made on demand
 * that end after a few idle seconds. They never run inside {@code start()}, inside the loop of a
 * persistent connection, or on a scheduler's thread.
 */
final class Calls {
  private static final Logger logger = LoggerFactory.getLogger(Calls.class);

  private Calls() {}

  /** Returns the executor of the callbacks of a call made with {@code options}. */
  static Executor executorOf(CallOptions options) {
    Executor executor = options.getExecutor();
    return executor != null ? executor : SharedPool.INSTANCE;
  }

  /** Returns the shared pool that runs work which must leave the thread it was triggered on. */
  static Executor sharedPool() {
    return SharedPool.INSTANCE;
  }

  /**
   * Runs {@code task} on {@code executor}. If the executor rejects it (it was shut down), the
   * task runs on the shared pool instead, so that no call is left without its {@code onClose}.
   */
  static void execute(Executor executor, Runnable task) {
    try {
      executor.execute(task);
    } catch (RejectedExecutionException e) {
      if (executor == SharedPool.INSTANCE) {
        throw e; // cannot happen: the shared pool is never shut down and has no bound
      }
      logger.warn("a call's executor rejected a callback; running it on the shared pool", e);
      SharedPool.INSTANCE.execute(task);
    }
  }

  /**
   * Cancels {@code call}, made but never started and no longer wanted, so that the interceptors
   * that saw it made (a trace, a metric) see it end; an interceptor that throws because it
   * expected {@code start()} first is logged.
   */
  static void cancelUnstarted(ClientCall<?, ?> call, String why) {
    try {
      call.cancel(why, null);
    } catch (Throwable e) {
      logger.warn("cancelling a call that was never started threw; it is dropped anyway", e);
    }
  }

  private static final class SharedPool {
    static final ExecutorService INSTANCE = create();

    private static ExecutorService create() {
      ThreadPoolExecutor pool =
          new ThreadPoolExecutor(
              0,
              Integer.MAX_VALUE,
              5,
              TimeUnit.SECONDS,
              new SynchronousQueue<>(),
              new ThreadFactoryBuilder().setNameFormat("tether-grpc-%d").setDaemon(true).build());
      return java.util.concurrent.Executors.unconfigurableExecutorService(pool);
    }
  }
}
