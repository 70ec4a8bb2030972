package dev.tether.testsupport;

import org.junit.jupiter.api.Test;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Test classes that {@link ErrorLogsExtensionTest} runs through the JUnit launcher. Surefire
 * never runs them itself: their names match none of its patterns.
 */
final class ErrorLogsFixtures {
  static final Logger TETHER = LoggerFactory.getLogger("dev.tether.fixture");
  static final Logger OTHER = LoggerFactory.getLogger("org.example.fixture");

  private ErrorLogsFixtures() {}

  static class LogsErrorClassic {
    @Test
    void test() {
      TETHER.error("classic {} line", "error", new IllegalStateException("the cause"));
    }
  }

  static class LogsErrorFluent {
    @Test
    void test() {
      TETHER.atError().addKeyValue("k", "v").log("fluent {} line", "error");
    }
  }

  static class LogsErrorFromAnotherThread {
    @Test
    void test() throws InterruptedException {
      Thread thread = new Thread(() -> TETHER.error("from elsewhere"), "elsewhere");
      thread.start();
      thread.join();
    }
  }

  static class LogsWarnAndOtherErrors {
    @Test
    void test() {
      TETHER.warn("only a warning");
      TETHER.atWarn().log("a fluent warning");
      OTHER.error("not one of ours");
    }
  }

  static class ExpectsErrorOnTheMethod {
    @Test
    @ExpectErrorLogs("the line is the point of this fixture")
    void test() {
      TETHER.error("expected");
    }
  }

  @ExpectErrorLogs("the line is the point of this fixture")
  static class ExpectsErrorOnTheClass {
    @Test
    void test() {
      TETHER.atError().log("expected");
    }
  }
}
