package dev.tether.benchmarks;

import java.util.Collection;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;
import org.openjdk.jmh.profile.GCProfiler;
import org.openjdk.jmh.results.Result;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.options.Options;
import org.openjdk.jmh.runner.options.OptionsBuilder;
import org.openjdk.jmh.runner.options.TimeValue;

/**
 * Runs the JMH benchmarks and prints one line per figure. Full: 3 forks, 5 warm-up and 5
 * measurement iterations of 2 s; quick: 1 fork, 1 warm-up and 2 measurement iterations of 1 s.
 * The throughput ratio printed here divides scores of separate benchmarks; {@link
 * HotPathRatioBench} measures the two paths interleaved in one JVM, which is the ratio to quote.
 */
final class HotPathRunner {
  private HotPathRunner() {}

  static void run(boolean quick) throws Exception {
    Options options =
        new OptionsBuilder()
            .include(HotPathBenchmark.class.getName())
            .include(HandleBenchmark.class.getName())
            .forks(quick ? 1 : 3)
            .warmupIterations(quick ? 1 : 5)
            .warmupTime(TimeValue.seconds(quick ? 1 : 2))
            .measurementIterations(quick ? 2 : 5)
            .measurementTime(TimeValue.seconds(quick ? 1 : 2))
            .addProfiler(GCProfiler.class)
            .shouldFailOnError(true)
            .verbosity(org.openjdk.jmh.runner.options.VerboseMode.SILENT)
            .build();
    Collection<RunResult> results = new Runner(options).run();
    Map<String, Double> throughput = new HashMap<>();
    for (RunResult result : results) {
      String name = result.getParams().getBenchmark().replaceAll(".*\\.", "");
      String transport = result.getParams().getParam("transport");
      String key = transport == null ? name : name + "[" + transport + "]";
      Result<?> primary = result.getPrimaryResult();
      Result<?> alloc = result.getSecondaryResults().get("gc.alloc.rate.norm");
      System.out.printf(
          Locale.ROOT,
          "hotpath %-32s %12.1f ± %8.1f %-6s %8.1f B/op%n",
          key,
          primary.getScore(),
          primary.getScoreError(),
          primary.getScoreUnit(),
          alloc == null ? Double.NaN : alloc.getScore());
      throughput.put(key, primary.getScore());
    }
    for (String transport : new String[] {"inprocess", "netty"}) {
      Double raw = throughput.get("rawChannel[" + transport + "]");
      Double tether = throughput.get("tetherChannel[" + transport + "]");
      if (raw != null && tether != null) {
        System.out.printf(
            Locale.ROOT,
            "hotpath throughput ratio tether/raw [%s] = %.3f (separate benchmarks, which drift"
                + " apart between forks here: hotpath-ratio measures the ratio)%n",
            transport,
            tether / raw);
      }
    }
  }
}
