package dev.tether;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.ArrayList;
import java.util.List;

/** Short lines recorded by listeners, for tests that assert whole sequences. Thread-safe. */
final class Lines {
  private final List<String> lines = new ArrayList<>();

  synchronized void add(String line) {
    lines.add(line);
  }

  /** Returns the lines recorded since the last call, and forgets them. */
  synchronized List<String> take() {
    List<String> taken = new ArrayList<>(lines);
    lines.clear();
    return taken;
  }

  /** Asserts that exactly these lines were recorded since the last take, and forgets them. */
  void expect(String... expected) {
    assertEquals(List.of(expected), take());
  }
}
