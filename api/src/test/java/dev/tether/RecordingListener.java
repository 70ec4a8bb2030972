package dev.tether;

import java.util.ArrayList;
import java.util.List;

/**
 * Records events as short lines, so tests can assert whole sequences in the manner of expect
 * tests: {@code AttemptingToConnect}, {@code ObtainedAddress a}, {@code FailedToConnect LOOKUP
 * address lookup failed: ...}, {@code Connected c1}, {@code Disconnected}. Also records the thread
 * each event arrived on.
 */
final class RecordingListener<A, C> implements EventListener<A, C> {
  private final Lines lines = new Lines();
  private final List<Event<A, C>> events = new ArrayList<>();
  private final List<Thread> threads = new ArrayList<>();

  static String describe(Event<?, ?> event) {
    if (event instanceof Event.AttemptingToConnect) {
      return "AttemptingToConnect";
    } else if (event instanceof Event.ObtainedAddress<?, ?> obtained) {
      return "ObtainedAddress " + obtained.address();
    } else if (event instanceof Event.FailedToConnect<?, ?> failed) {
      Throwable error = failed.error();
      String stage = error instanceof ConnectAttemptException e ? e.stage() + " " : "";
      return "FailedToConnect " + stage + error.getMessage();
    } else if (event instanceof Event.Connected<?, ?> connected) {
      return "Connected " + connected.connection();
    } else {
      return "Disconnected";
    }
  }

  @Override
  public synchronized void onEvent(Event<A, C> event) {
    lines.add(describe(event));
    events.add(event);
    threads.add(Thread.currentThread());
  }

  /** Returns the lines recorded since the last call, and forgets them. */
  List<String> take() {
    return lines.take();
  }

  /** Asserts that exactly these lines were recorded since the last take, and forgets them. */
  void expect(String... expected) {
    lines.expect(expected);
  }

  synchronized List<Event<A, C>> events() {
    return new ArrayList<>(events);
  }

  synchronized List<Thread> threads() {
    return new ArrayList<>(threads);
  }
}
