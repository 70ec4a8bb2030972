package dev.tether;

import java.util.ArrayList;
import java.util.List;
import java.util.stream.Collectors;
import org.jspecify.annotations.Nullable;
import org.slf4j.Marker;
import org.slf4j.event.Level;
import org.slf4j.event.LoggingEvent;
import org.slf4j.helpers.AbstractLogger;
import org.slf4j.helpers.MessageFormatter;
import org.slf4j.spi.LoggingEventAware;

/** An SLF4J logger that records every line, with its level, key-values and cause. */
class RecordingLogger extends AbstractLogger implements LoggingEventAware {
  private static final long serialVersionUID = 1L;

  record Line(Level level, String message, List<String> keyValues, @Nullable Throwable cause) {
    @Override
    public String toString() {
      return level + " " + keyValues + " " + message;
    }
  }

  private final List<Line> lines = new ArrayList<>();

  RecordingLogger() {
    this.name = "recording";
  }

  synchronized List<Line> lines() {
    return new ArrayList<>(lines);
  }

  synchronized List<Line> take() {
    List<Line> taken = new ArrayList<>(lines);
    lines.clear();
    return taken;
  }

  @Override
  public synchronized void log(LoggingEvent event) {
    List<String> keyValues =
        event.getKeyValuePairs() == null
            ? List.of()
            : event.getKeyValuePairs().stream()
                .map(kv -> kv.key + "=" + kv.value)
                .collect(Collectors.toList());
    Object[] args = event.getArgumentArray();
    String message = MessageFormatter.basicArrayFormat(event.getMessage(), args);
    lines.add(new Line(event.getLevel(), message, keyValues, event.getThrowable()));
  }

  @Override
  protected String getFullyQualifiedCallerName() {
    return RecordingLogger.class.getName();
  }

  @Override
  protected synchronized void handleNormalizedLoggingCall(
      Level level,
      @Nullable Marker marker,
      String messagePattern,
      @Nullable Object @Nullable [] arguments,
      @Nullable Throwable throwable) {
    lines.add(
        new Line(
            level,
            MessageFormatter.basicArrayFormat(messagePattern, arguments),
            List.of(),
            throwable));
  }

  @Override
  public boolean isTraceEnabled() {
    return true;
  }

  @Override
  public boolean isTraceEnabled(Marker marker) {
    return true;
  }

  @Override
  public boolean isDebugEnabled() {
    return true;
  }

  @Override
  public boolean isDebugEnabled(Marker marker) {
    return true;
  }

  @Override
  public boolean isInfoEnabled() {
    return true;
  }

  @Override
  public boolean isInfoEnabled(Marker marker) {
    return true;
  }

  @Override
  public boolean isWarnEnabled() {
    return true;
  }

  @Override
  public boolean isWarnEnabled(Marker marker) {
    return true;
  }

  @Override
  public boolean isErrorEnabled() {
    return true;
  }

  @Override
  public boolean isErrorEnabled(Marker marker) {
    return true;
  }
}
