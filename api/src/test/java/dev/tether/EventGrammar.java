package dev.tether;

import java.util.Queue;
import java.util.concurrent.atomic.AtomicInteger;
import org.jspecify.annotations.Nullable;

/**
 * A listener that checks a persistent connection's events against their grammar: a round is
 * AttemptingToConnect, then ObtainedAddress and FailedToConnect in any number, then Connected;
 * Disconnected follows Connected, and a new round follows Disconnected. It also checks that no two
 * deliveries to the listeners sharing one {@code inside} counter overlap. Problems go to a queue
 * that the test asserts empty.
 */
public final class EventGrammar<A, C> implements EventListener<A, C> {
  private enum State {
    START,
    ROUND,
    CONNECTED,
    DISCONNECTED
  }

  private final String name;
  private final boolean fromTheStart;
  private final Queue<String> problems;
  private final AtomicInteger inside;
  private final AtomicInteger count = new AtomicInteger();
  private final AtomicInteger connections = new AtomicInteger();
  private State state = State.START;

  /**
   * @param fromTheStart whether the listener sees every event (given to the builder); a late
   *     subscriber's first event may be any
   * @param inside shared by the listeners of one persistent connection, to catch overlaps
   */
  public EventGrammar(String name, boolean fromTheStart, Queue<String> problems, AtomicInteger inside) {
    this.name = name;
    this.fromTheStart = fromTheStart;
    this.problems = problems;
    this.inside = inside;
  }

  /** Returns how many events this listener received. */
  public int count() {
    return count.get();
  }

  /** Returns how many Connected events this listener received. */
  public int connections() {
    return connections.get();
  }

  @Override
  public void onEvent(Event<A, C> event) {
    if (inside.incrementAndGet() != 1) {
      problems.add(name + ": overlapping deliveries at " + event);
    }
    try {
      count.incrementAndGet();
      if (event instanceof Event.Connected) {
        connections.incrementAndGet();
      }
      State next = next(event);
      if (next == null) {
        problems.add(name + ": " + event + " in state " + state);
      } else {
        state = next;
      }
    } finally {
      inside.decrementAndGet();
    }
  }

  private @Nullable State next(Event<A, C> event) {
    boolean attempting = event instanceof Event.AttemptingToConnect;
    boolean inRound = event instanceof Event.ObtainedAddress || event instanceof Event.FailedToConnect;
    boolean connected = event instanceof Event.Connected;
    boolean disconnected = event instanceof Event.Disconnected;
    return switch (state) {
      case START -> {
        if (attempting || (!fromTheStart && inRound)) {
          yield State.ROUND;
        }
        if (!fromTheStart && connected) {
          yield State.CONNECTED;
        }
        yield !fromTheStart && disconnected ? State.DISCONNECTED : null;
      }
      case ROUND -> inRound ? State.ROUND : connected ? State.CONNECTED : null;
      case CONNECTED -> disconnected ? State.DISCONNECTED : null;
      case DISCONNECTED -> attempting ? State.ROUND : null;
    };
  }
}
