package dev.tether.testsupport;

import java.lang.reflect.AnnotatedElement;
import java.util.List;
import java.util.Optional;
import java.util.stream.Collectors;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.platform.commons.support.AnnotationSupport;

/**
 * Fails a test when a Tether logger (a name starting with {@value ErrorLogs#LOGGER_PREFIX}) logged
 * at ERROR through SLF4J while it ran, unless the test, its class or an enclosing class is marked
 * {@link ExpectErrorLogs}.
 *
 * <p>Registered for every test through the service loader (surefire turns on JUnit's extension
 * auto-detection); the lines come from {@link ErrorLogs}. After each test it takes every line
 * recorded since the previous test and throws an {@link AssertionError} that lists them, with their
 * causes as suppressed exceptions. After a class it does the same for lines logged after its last
 * test (in {@code @AfterAll} methods, say), unless the class is marked.
 */
public final class ErrorLogsExtension implements AfterEachCallback, AfterAllCallback {
  /** Creates the extension; the service loader calls this. */
  public ErrorLogsExtension() {}

  @Override
  public void afterEach(ExtensionContext context) {
    check(context, "this test");
  }

  @Override
  public void afterAll(ExtensionContext context) {
    check(context, "the tear-down of " + context.getDisplayName());
  }

  private static void check(ExtensionContext context, String where) {
    List<ErrorLogs.Line> lines = ErrorLogs.take();
    if (lines.isEmpty() || expected(context)) {
      return;
    }
    AssertionError failure =
        new AssertionError(
            lines.size()
                + " ERROR line(s) from "
                + ErrorLogs.LOGGER_PREFIX
                + " loggers during "
                + where
                + " (mark deliberate ones @ExpectErrorLogs):\n  "
                + lines.stream().map(ErrorLogs.Line::toString).collect(Collectors.joining("\n  ")));
    for (ErrorLogs.Line line : lines) {
      Throwable cause = line.cause();
      if (cause != null) {
        failure.addSuppressed(cause);
      }
    }
    throw failure;
  }

  /** Whether the test method, or its class or any enclosing one, is marked {@link ExpectErrorLogs}. */
  private static boolean expected(ExtensionContext context) {
    for (Optional<ExtensionContext> c = Optional.of(context); c.isPresent(); c = c.get().getParent()) {
      Optional<AnnotatedElement> element = c.get().getElement();
      if (element.isPresent()
          && AnnotationSupport.isAnnotated(element.get(), ExpectErrorLogs.class)) {
        return true;
      }
    }
    return false;
  }
}
