package dev.tether.benchmarks;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;

/** Durations in milliseconds, summarized as percentiles. */
final class Stats {
  private final List<Double> millis = new ArrayList<>();

  void add(long nanos) {
    millis.add(nanos / 1e6);
  }

  int count() {
    return millis.size();
  }

  double percentile(double p) {
    List<Double> sorted = new ArrayList<>(millis);
    Collections.sort(sorted);
    int index = (int) Math.ceil(p / 100.0 * sorted.size()) - 1;
    return sorted.get(Math.max(0, Math.min(sorted.size() - 1, index)));
  }

  double max() {
    return Collections.max(millis);
  }

  String summary() {
    return String.format(
        Locale.ROOT,
        "n=%d p50=%.1f ms p99=%.1f ms max=%.1f ms",
        count(),
        percentile(50),
        percentile(99),
        max());
  }
}
