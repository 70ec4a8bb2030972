package dev.tether.zookeeper;

import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.common.net.HostAndPort;
import dev.tether.AddressLookup;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

/** What a lookup answers, as a line, and bounded waits for what ZooKeeper's watches bring. */
final class Answers {
  private Answers() {}

  /** The address a lookup answers within {@code seconds}, or "failed: " and its message. */
  static String answer(AddressLookup<HostAndPort> lookup, int seconds) {
    try {
      return String.valueOf(lookup.lookup().get(seconds, TimeUnit.SECONDS));
    } catch (ExecutionException e) {
      return "failed: " + String.valueOf(e.getCause()).replaceFirst("^[^:]*: ", "");
    } catch (Exception e) {
      return "threw: " + e;
    }
  }

  /** Waits, bounded, until the watched cache shows what a ZooKeeper change made. */
  static void eventually(String what, BooleanSupplier condition) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    while (!condition.getAsBoolean()) {
      assertTrue(System.nanoTime() < deadline, "never: " + what);
      TimeUnit.MILLISECONDS.sleep(10); // polls ZooKeeper's watch, bounded; not a timing wait
    }
  }
}
