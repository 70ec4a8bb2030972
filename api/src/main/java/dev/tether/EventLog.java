package dev.tether;

import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.spi.LoggingEventBuilder;

/**
 * The log lines of one persistent connection: one per emitted event ({@code FailedToConnect} at
 * WARN, the others at INFO), failures of user code at WARN, each through SLF4J's fluent API with
 * the key-value {@code persistent-connection-to=<server name>} and the server name in the text. A
 * logger that throws never stops the loop.
 */
final class EventLog {
  static final String KEY = "persistent-connection-to";

  private final Logger logger;
  private final String serverName;

  /** The name of the service the log lines are about. */
  String serverName() {
    return serverName;
  }

  EventLog(Logger logger, String serverName) {
    this.logger = logger;
    this.serverName = serverName;
  }

  /**
   * Logs {@code event}; {@code detail}, if any, follows a {@code Disconnected} after "; " (an
   * argument of the log line, so that a {@code toString()} that throws spoils only the line).
   */
  void event(Event<?, ?> event, @Nullable Object detail) {
    try {
      if (event instanceof Event.FailedToConnect<?, ?> failed) {
        at(logger.atWarn())
            .log(
                "Persistent connection to {}: failed to connect: {}",
                serverName,
                failed.error().getMessage());
      } else if (event instanceof Event.ObtainedAddress<?, ?> obtained) {
        at(logger.atInfo())
            .log("Persistent connection to {}: obtained address {}", serverName, obtained.address());
      } else if (event instanceof Event.Connected<?, ?> connected) {
        at(logger.atInfo())
            .log("Persistent connection to {}: connected: {}", serverName, connected.connection());
      } else if (event instanceof Event.Disconnected) {
        if (detail == null) {
          at(logger.atInfo()).log("Persistent connection to {}: disconnected", serverName);
        } else {
          at(logger.atInfo())
              .log("Persistent connection to {}: disconnected; {}", serverName, detail);
        }
      } else {
        at(logger.atInfo()).log("Persistent connection to {}: attempting to connect", serverName);
      }
    } catch (Throwable ignored) {
      // A broken logger must not stop the loop.
    }
  }

  /** Logs a failure in user code at WARN; a trailing Throwable argument becomes the cause. */
  void warn(String format, @Nullable Object... args) {
    try {
      LoggingEventBuilder builder = at(logger.atWarn()).addArgument(serverName);
      for (Object arg : args) {
        builder = builder.addArgument(arg);
      }
      if (args.length > 0 && args[args.length - 1] instanceof Throwable t) {
        builder = builder.setCause(t);
      }
      builder.log("Persistent connection to {}: " + format);
    } catch (Throwable ignored) {
      // A broken logger must not stop the loop.
    }
  }

  /**
   * Completes a future handed to the user ({@code completion} sets it): a callback of it that runs
   * here and throws is logged as {@code whose} callback, and the loop's step goes on. Guava logs a
   * callback's {@code Exception} itself but lets an {@code Error} (a failed assertion) through,
   * and then runs none of the future's later callbacks: that is Guava's, and a reason never to
   * throw an Error from a callback of a future several parties share. A {@code
   * VirtualMachineError} (out of memory, a stack overflow) is logged at ERROR.
   */
  void complete(String whose, Runnable completion) {
    try {
      completion.run();
    } catch (VirtualMachineError e) {
      try { // building the message may fail too, out of memory: the step goes on regardless
        error("a callback of " + whose + " failed", e);
      } catch (Throwable ignored) {
        // nothing more to do
      }
    } catch (Throwable t) {
      warn("a callback of {} threw", whose, t);
    }
  }

  /** Logs a broken invariant or a refused scheduler at ERROR. */
  void error(String message, Throwable cause) {
    try {
      at(logger.atError()).setCause(cause).log("Persistent connection to {}: " + message, serverName);
    } catch (Throwable ignored) {
      // A broken logger must not stop the loop.
    }
  }

  private LoggingEventBuilder at(LoggingEventBuilder builder) {
    return builder.addKeyValue(KEY, serverName);
  }
}
