package dev.tether.testing.faults;

import static java.util.Objects.requireNonNull;

import com.google.common.collect.ImmutableList;
import com.google.common.util.concurrent.Futures;
import com.google.common.util.concurrent.ListenableFuture;
import dev.tether.AddressLookup;
import java.time.Duration;
import java.util.concurrent.ScheduledExecutorService;
import java.util.function.Supplier;

/**
 * An {@link AddressLookup} that answers as scripted, one step per lookup, for unit tests on
 * virtual time:
 *
 * <pre>{@code
 * VirtualTimeScheduler scheduler = VirtualTimeScheduler.create();
 * ScriptedLookup<String> lookup = ScriptedLookup.<String>on(scheduler)
 *     .fail(new IOException("catalog down"))        // the first lookup
 *     .answerAfter(Duration.ofSeconds(1), "b")      // the second, a second later
 *     .answer("c")                                    // the third
 *     .hang();                                        // the fourth, and every one after: never answers
 * }</pre>
 *
 * <p>A persistent connection's attempt waits for a hanging lookup until {@code close()} cancels
 * it (its next attempt starts only after this one ends), so steps after a {@link #hang()} serve
 * only other lookups: a handover's, a standby's, another persistent connection's.
 *
 * <p>Past the end of the script, the last step repeats. Delays run on the given scheduler. It
 * records how many lookups were made and the future each got, so a test can check that a hanging
 * lookup was cancelled. Steps may be added while it is in use: past the end, the first step added
 * comes next. Thread-safe.
 *
 * @param <A> the address type
 */
public final class ScriptedLookup<A> implements AddressLookup<A> {
  private final Script<A> script;

  private ScriptedLookup(ScheduledExecutorService scheduler) {
    this.script = new Script<>("the lookup", scheduler, address -> {});
  }

  /**
   * Returns a lookup with an empty script whose delays run on {@code scheduler}.
   *
   * @throws NullPointerException if {@code scheduler} is null
   */
  public static <A> ScriptedLookup<A> on(ScheduledExecutorService scheduler) {
    return new ScriptedLookup<>(scheduler);
  }

  /** Next: answers {@code address} at once. */
  public ScriptedLookup<A> answer(A address) {
    requireNonNull(address, "address");
    script.add(() -> Futures.immediateFuture(address));
    return this;
  }

  /** Next: answers {@code address} after {@code delay}. */
  public ScriptedLookup<A> answerAfter(Duration delay, A address) {
    requireNonNull(address, "address");
    Script.checkedDelay(delay);
    script.add(() -> script.after(delay, () -> Futures.immediateFuture(address)));
    return this;
  }

  /** Next: fails at once with {@code error}. */
  public ScriptedLookup<A> fail(Throwable error) {
    script.add(Script.failing(error));
    return this;
  }

  /** Next: fails with {@code error} after {@code delay}. */
  public ScriptedLookup<A> failAfter(Duration delay, Throwable error) {
    Script.checkedDelay(delay);
    Supplier<ListenableFuture<A>> failing = Script.failing(error);
    script.add(() -> script.after(delay, failing));
    return this;
  }

  /**
   * Next: never answers, until the caller cancels the future (a persistent connection does at
   * {@code close()}).
   */
  public ScriptedLookup<A> hang() {
    script.add(Script::hanging);
    return this;
  }

  /**
   * Answers with the next step of the script.
   *
   * @throws IllegalStateException if the script has no step
   */
  @Override
  public ListenableFuture<A> lookup() {
    return script.next();
  }

  /** How many lookups were made. */
  public int asked() {
    return script.count();
  }

  /** The future each lookup got, in order. */
  public ImmutableList<ListenableFuture<A>> answers() {
    return script.answers();
  }

  @Override
  public String toString() {
    return "ScriptedLookup[asked " + asked() + "]";
  }
}
