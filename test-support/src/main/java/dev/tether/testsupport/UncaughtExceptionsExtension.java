package dev.tether.testsupport;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * Fails a test when any thread of the JVM dies of an uncaught exception while the test runs.
 *
 * <p>Registered for every test through the service loader (surefire turns on JUnit's extension
 * auto-detection). It installs a default {@link Thread.UncaughtExceptionHandler} before each test
 * and, after the test, throws an {@link AssertionError} that carries every exception that reached
 * it. A thread that dies between two tests is reported by the next one.
 */
public final class UncaughtExceptionsExtension implements BeforeEachCallback, AfterEachCallback {
  private static final Object lock = new Object();
  private static final List<Throwable> uncaught = new ArrayList<>();
  private static boolean installed;

  /** Creates the extension; the service loader calls this. */
  public UncaughtExceptionsExtension() {}

  @Override
  public void beforeEach(ExtensionContext context) {
    synchronized (lock) {
      if (!installed) {
        Thread.UncaughtExceptionHandler previous = Thread.getDefaultUncaughtExceptionHandler();
        Thread.setDefaultUncaughtExceptionHandler(
            (thread, error) -> {
              synchronized (lock) {
                uncaught.add(
                    new AssertionError("uncaught exception in thread " + thread.getName(), error));
              }
              if (previous != null) {
                previous.uncaughtException(thread, error);
              } else {
                System.err.print("Exception in thread \"" + thread.getName() + "\" ");
                error.printStackTrace();
              }
            });
        installed = true;
      }
    }
  }

  @Override
  public void afterEach(ExtensionContext context) {
    List<Throwable> seen;
    synchronized (lock) {
      seen = new ArrayList<>(uncaught);
      uncaught.clear();
    }
    if (!seen.isEmpty()) {
      AssertionError failure =
          new AssertionError(
              seen.size() + " thread(s) died of an uncaught exception during this test");
      seen.forEach(failure::addSuppressed);
      throw failure;
    }
  }
}
