package dev.tether.testsupport;

import java.util.ArrayList;
import java.util.List;
import org.jspecify.annotations.Nullable;
import org.slf4j.ILoggerFactory;
import org.slf4j.LoggerFactory;

/**
 * The ERROR lines that Tether's loggers (every logger whose name starts with {@value
 * #LOGGER_PREFIX}) logged through SLF4J, as {@link RecordingServiceProvider} records them.
 *
 * <p>{@link ErrorLogsExtension} fails every test that leaves such a line behind. A test that
 * provokes one on purpose is marked {@link ExpectErrorLogs}, and may look at the lines with {@link
 * #snapshot()} or {@link #take()}. Lines logged between two tests count for the next one.
 *
 * <p>Nothing is recorded unless the JVM runs with the system property {@code
 * slf4j.provider=dev.tether.testsupport.RecordingServiceProvider}, as the parent pom's surefire
 * configuration sets it; {@link #isRecording()} says whether it does.
 */
public final class ErrorLogs {
  /** The prefix of the names of the loggers whose ERROR lines are recorded. */
  public static final String LOGGER_PREFIX = "dev.tether";

  private static final Object lock = new Object();
  private static final List<Line> lines = new ArrayList<>();
  private static volatile boolean recording;

  private ErrorLogs() {}

  /**
   * One ERROR line.
   *
   * @param thread the name of the thread that logged it
   * @param logger the logger's name
   * @param message the message, its arguments filled in
   * @param cause the throwable logged with it, if any
   */
  public record Line(String thread, String logger, String message, @Nullable Throwable cause) {
    @Override
    public String toString() {
      return "[" + thread + "] ERROR " + logger + " - " + message + (cause == null ? "" : " (" + cause + ")");
    }
  }

  /** Returns whether the recording provider is SLF4J's provider in this JVM (binding SLF4J now). */
  public static boolean isRecording() {
    ILoggerFactory unused = LoggerFactory.getILoggerFactory();
    return recording;
  }

  /** Returns the lines recorded and not yet taken. */
  public static List<Line> snapshot() {
    synchronized (lock) {
      return List.copyOf(lines);
    }
  }

  /** Returns the lines recorded and not yet taken, and forgets them. */
  public static List<Line> take() {
    synchronized (lock) {
      List<Line> taken = List.copyOf(lines);
      lines.clear();
      return taken;
    }
  }

  static void startRecording() {
    recording = true;
  }

  static void record(Line line) {
    synchronized (lock) {
      lines.add(line);
    }
  }
}
