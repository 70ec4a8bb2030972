package dev.tether.benchmarks;

import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * The benchmarks' entry point: {@code Bench <failover|planned|recovery|hotpath|hotpath-ratio|scale|budget|rolling|soak|all>
 * [--quick|--full] [case...]}, where the cases (hotpath-ratio only, all by default) are {@code
 * inprocess/fail-fast}, {@code inprocess/wait-for-ready}, {@code netty/fail-fast} and {@code
 * netty/wait-for-ready}, or (soak only) the run's length: {@code 90s}, {@code 10m}, {@code 1h}, or
 * (failover only) the untimed warm-up rounds: {@code warmup=200}. {@code planned} runs 200 planned
 * moves ({@code --quick}: 20) for Tether and for pick_first.
 * Each prints one line per figure. {@code --quick} finishes within a
 * minute; {@code --full} within ten. {@code --debug} (failover) prints when each event and each
 * failed call came, in milliseconds from the kill.
 */
public final class Bench {
  private Bench() {}

  public static void main(String[] args) throws Exception {
    if (args.length == 0) {
      System.err.println(
          "usage: Bench <failover|planned|recovery|hotpath|hotpath-ratio|scale|budget|rolling|soak|all> [--quick|--full]"
              + " [case...]");
      System.exit(2);
    }
    boolean quick = Arrays.asList(args).contains("--quick");
    if (Arrays.asList(args).contains("--debug")) {
      System.setProperty("bench.debug", "true"); // failover: when each event and call happened
    }
    String which = args[0];
    System.out.printf(
        Locale.ROOT,
        "# %s, %s mode, %d cores, JDK %s%n",
        which,
        quick ? "quick" : "full",
        Runtime.getRuntime().availableProcessors(),
        System.getProperty("java.version"));
    switch (which) {
      case "failover" -> FailoverBench.run(quick, cases(args));
      case "planned" -> PlannedMoveBench.runAlone(quick);
      case "recovery" -> RecoveryBench.run(quick);
      case "hotpath" -> HotPathRunner.run(quick);
      case "hotpath-ratio" -> HotPathRatioBench.run(quick, cases(args));
      case "scale" -> ScaleBench.run(quick);
      case "budget" -> BudgetBench.run(quick);
      case "rolling" -> RollingRestartBench.run(quick);
      case "soak" -> SoakBench.run(quick, cases(args));
      case "all" -> {
        FailoverBench.run(quick, List.of());
        RecoveryBench.run(quick);
        HotPathRunner.run(quick);
        HotPathRatioBench.run(quick, List.of());
        ScaleBench.run(quick);
        BudgetBench.run(quick);
        RollingRestartBench.run(quick);
      }
      default -> {
        System.err.println("unknown benchmark: " + which);
        System.exit(2);
      }
    }
    System.exit(0); // gRPC's and Netty's shared pools would keep the JVM a while longer
  }

  /** The arguments after the benchmark's name that are not a mode: hotpath-ratio's cases. */
  private static List<String> cases(String[] args) {
    return Arrays.stream(args)
        .skip(1)
        .filter(a -> !a.isBlank() && !a.startsWith("--"))
        .toList();
  }
}
