package dev.tether.testsupport;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.platform.engine.discovery.DiscoverySelectors.selectClass;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.platform.launcher.LauncherDiscoveryRequest;
import org.junit.platform.launcher.core.LauncherDiscoveryRequestBuilder;
import org.junit.platform.launcher.core.LauncherFactory;
import org.junit.platform.launcher.listeners.SummaryGeneratingListener;
import org.junit.platform.launcher.listeners.TestExecutionSummary;

/** The recording provider and {@link ErrorLogsExtension}, on fixtures run through the launcher. */
class ErrorLogsExtensionTest {

  private static TestExecutionSummary run(Class<?> fixture) {
    LauncherDiscoveryRequest request =
        LauncherDiscoveryRequestBuilder.request()
            .selectors(selectClass(fixture))
            .configurationParameter("junit.jupiter.extensions.autodetection.enabled", "true")
            .build();
    SummaryGeneratingListener listener = new SummaryGeneratingListener();
    LauncherFactory.create().execute(request, listener);
    assertEquals(1, listener.getSummary().getTestsStartedCount(), fixture.getSimpleName());
    return listener.getSummary();
  }

  private static String failureOf(Class<?> fixture) {
    TestExecutionSummary summary = run(fixture);
    assertEquals(1, summary.getTestsFailedCount(), fixture.getSimpleName() + " should fail");
    return String.valueOf(summary.getFailures().get(0).getException().getMessage());
  }

  private static void assertPasses(Class<?> fixture) {
    TestExecutionSummary summary = run(fixture);
    assertEquals(
        List.of(),
        summary.getFailures().stream().map(f -> f.getException().toString()).toList(),
        fixture.getSimpleName() + " should pass");
  }

  @Test
  void theBuildSelectsTheRecordingProvider() {
    assertTrue(ErrorLogs.isRecording(), "slf4j.provider is not the recording provider");
  }

  @Test
  void anErrorLine_failsTheTest_namingTheLineAndItsCause() {
    String message = failureOf(ErrorLogsFixtures.LogsErrorClassic.class);
    assertTrue(message.contains("1 ERROR line(s)"), message);
    assertTrue(
        message.contains("ERROR dev.tether.fixture - classic error line")
            && message.contains("IllegalStateException: the cause"),
        message);
  }

  @Test
  void aFluentErrorLine_failsTheTest() {
    String message = failureOf(ErrorLogsFixtures.LogsErrorFluent.class);
    assertTrue(message.contains("fluent error line"), message);
  }

  @Test
  void anErrorLineFromAnotherThread_failsTheTest() {
    String message = failureOf(ErrorLogsFixtures.LogsErrorFromAnotherThread.class);
    assertTrue(message.contains("[elsewhere] ERROR dev.tether.fixture - from elsewhere"), message);
  }

  @Test
  void warningsAndOtherLoggersErrors_pass() {
    assertPasses(ErrorLogsFixtures.LogsWarnAndOtherErrors.class);
  }

  @Test
  void expectErrorLogs_onTheMethodOrTheClass_letsTheLinesPass_andForgetsThem() {
    assertPasses(ErrorLogsFixtures.ExpectsErrorOnTheMethod.class);
    assertPasses(ErrorLogsFixtures.ExpectsErrorOnTheClass.class);
    assertEquals(List.of(), ErrorLogs.snapshot());
  }

  @Test
  @ExpectErrorLogs("checks what the provider records and prints")
  void tetherLoggers_stillPrintThroughSlf4jSimple_andRecordEachErrorOnce() {
    PrintStream stderr = System.err;
    ByteArrayOutputStream printed = new ByteArrayOutputStream();
    System.setErr(new PrintStream(printed, true, StandardCharsets.UTF_8));
    try {
      ErrorLogsFixtures.TETHER.atError().addKeyValue("k", "v").log("printed {}", 1);
      ErrorLogsFixtures.TETHER.info("info too");
    } finally {
      System.setErr(stderr);
    }
    String text = printed.toString(StandardCharsets.UTF_8);
    assertTrue(text.contains("ERROR dev.tether.fixture - k=v printed 1"), text);
    assertTrue(text.contains("INFO dev.tether.fixture - info too"), text);
    List<ErrorLogs.Line> lines = ErrorLogs.take();
    assertEquals(1, lines.size(), lines.toString());
    assertEquals("k=v printed 1", lines.get(0).message());
  }
}
