package dev.tether.testsupport;

import java.lang.reflect.InvocationHandler;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import org.jspecify.annotations.Nullable;
import org.slf4j.ILoggerFactory;
import org.slf4j.IMarkerFactory;
import org.slf4j.Logger;
import org.slf4j.Marker;
import org.slf4j.helpers.FormattingTuple;
import org.slf4j.helpers.MessageFormatter;
import org.slf4j.simple.SimpleServiceProvider;
import org.slf4j.spi.MDCAdapter;
import org.slf4j.spi.SLF4JServiceProvider;

/**
 * An SLF4J 2 provider for tests: slf4j-simple, which prints every line as before, plus a record of
 * the ERROR lines of Tether's loggers in {@link ErrorLogs}.
 *
 * <p>Selected with the system property {@code slf4j.provider} (the parent pom's surefire
 * configuration sets it), not through the service loader, which would find slf4j-simple's own
 * provider too and pick one of the two by class path order.
 *
 * <p>A logger whose name starts with {@value ErrorLogs#LOGGER_PREFIX} is a proxy of slf4j-simple's
 * logger that forwards every call. Its fluent builders ({@code atError()} and the like) are the
 * {@link Logger} interface's default methods, so they are built on the proxy and end in one of its
 * {@code error(...)} methods, exactly as they end in slf4j-simple's when unwrapped: every ERROR line
 * passes through {@code error(...)}, where it is recorded. Other loggers are slf4j-simple's own.
 */
public final class RecordingServiceProvider implements SLF4JServiceProvider {
  private final SimpleServiceProvider simple = new SimpleServiceProvider();
  private volatile @Nullable ILoggerFactory loggerFactory;

  /** Creates the provider; SLF4J calls this. */
  public RecordingServiceProvider() {}

  @Override
  public void initialize() {
    simple.initialize();
    loggerFactory = new RecordingLoggerFactory(simple.getLoggerFactory());
    ErrorLogs.startRecording();
  }

  @Override
  public ILoggerFactory getLoggerFactory() {
    ILoggerFactory factory = loggerFactory;
    return factory != null ? factory : simple.getLoggerFactory();
  }

  @Override
  public IMarkerFactory getMarkerFactory() {
    return simple.getMarkerFactory();
  }

  @Override
  public MDCAdapter getMDCAdapter() {
    return simple.getMDCAdapter();
  }

  @Override
  public String getRequestedApiVersion() {
    return simple.getRequestedApiVersion();
  }

  /** Hands out recording proxies for Tether's loggers, one per name. */
  private static final class RecordingLoggerFactory implements ILoggerFactory {
    private final ILoggerFactory simple;
    private final ConcurrentMap<String, Logger> loggers = new ConcurrentHashMap<>();

    RecordingLoggerFactory(ILoggerFactory simple) {
      this.simple = simple;
    }

    @Override
    public Logger getLogger(String name) {
      Logger logger = simple.getLogger(name);
      if (!name.startsWith(ErrorLogs.LOGGER_PREFIX)) {
        return logger;
      }
      return loggers.computeIfAbsent(name, unused -> recording(logger));
    }

    private static Logger recording(Logger delegate) {
      InvocationHandler handler =
          (proxy, method, args) -> {
            if (method.isDefault()) {
              return InvocationHandler.invokeDefault(proxy, method, args);
            }
            if (method.getDeclaringClass() == Object.class) {
              return switch (method.getName()) {
                case "equals" -> proxy == args[0];
                case "hashCode" -> System.identityHashCode(proxy);
                default -> "Recording" + delegate;
              };
            }
            if (method.getName().equals("error")) {
              ErrorLogs.record(line(delegate.getName(), method, args));
            }
            try {
              return method.invoke(delegate, args);
            } catch (InvocationTargetException e) {
              throw e.getCause();
            }
          };
      return (Logger)
          Proxy.newProxyInstance(
              RecordingServiceProvider.class.getClassLoader(), new Class<?>[] {Logger.class}, handler);
    }

    /**
     * The line of one call of {@code error(...)}: {@code ([Marker,] String format, args...)}, the
     * arguments one by one or as one {@code Object[]}, a trailing throwable being the cause.
     */
    private static ErrorLogs.Line line(String logger, Method method, @Nullable Object[] args) {
      Class<?>[] types = method.getParameterTypes();
      int i = types.length > 0 && types[0] == Marker.class ? 1 : 0;
      String format = String.valueOf(args[i]);
      List<@Nullable Object> params = new ArrayList<>();
      for (i++; i < args.length; i++) {
        Object arg = args[i];
        if (types[i] == Object[].class && arg != null) {
          params.addAll(java.util.Arrays.asList((@Nullable Object[]) arg));
        } else {
          params.add(arg);
        }
      }
      FormattingTuple formatted = MessageFormatter.arrayFormat(format, params.toArray());
      return new ErrorLogs.Line(
          Thread.currentThread().getName(), logger, formatted.getMessage(), formatted.getThrowable());
    }
  }
}
