package dev.tether.benchmarks;

import java.util.Arrays;
import java.util.Locale;

/**
 * The benchmarks' entry point: {@code Bench <failover|recovery|hotpath|scale|all> [--quick|--full]}.
 * Each prints one line per figure. {@code --quick} finishes within a minute; {@code --full}
 * within ten.
 */
public final class Bench {
  private Bench() {}

  public static void main(String[] args) throws Exception {
    if (args.length == 0) {
      System.err.println("usage: Bench <failover|recovery|hotpath|scale|all> [--quick|--full]");
      System.exit(2);
    }
    boolean quick = Arrays.asList(args).contains("--quick");
    String which = args[0];
    System.out.printf(
        Locale.ROOT,
        "# %s, %s mode, %d cores, JDK %s%n",
        which,
        quick ? "quick" : "full",
        Runtime.getRuntime().availableProcessors(),
        System.getProperty("java.version"));
    switch (which) {
      case "failover" -> FailoverBench.run(quick);
      case "recovery" -> RecoveryBench.run(quick);
      case "hotpath" -> HotPathRunner.run(quick);
      case "scale" -> ScaleBench.run(quick);
      case "all" -> {
        FailoverBench.run(quick);
        RecoveryBench.run(quick);
        HotPathRunner.run(quick);
        ScaleBench.run(quick);
      }
      default -> {
        System.err.println("unknown benchmark: " + which);
        System.exit(2);
      }
    }
    System.exit(0); // gRPC's and Netty's shared pools would keep the JVM a while longer
  }
}
