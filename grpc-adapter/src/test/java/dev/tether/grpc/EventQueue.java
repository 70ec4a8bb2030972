package dev.tether.grpc;

import static org.junit.jupiter.api.Assertions.assertNotNull;

import dev.tether.Event;
import dev.tether.EventListener;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/** Events as a queue that tests wait on, with a timeout and without sleeping. */
public final class EventQueue<A, C> implements EventListener<A, C> {
  private final LinkedBlockingQueue<Event<A, C>> queue = new LinkedBlockingQueue<>();
  private final List<Event<A, C>> all = new ArrayList<>();

  @Override
  public synchronized void onEvent(Event<A, C> event) {
    all.add(event);
    queue.add(event);
  }

  /** Waits up to {@code seconds} for the next event of {@code type}, skipping others. */
  public Event<A, C> next(Class<?> type, long seconds) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
    while (true) {
      long left = deadline - System.nanoTime();
      Event<A, C> event = queue.poll(Math.max(0, left), TimeUnit.NANOSECONDS);
      assertNotNull(event, "no " + type.getSimpleName() + " within " + seconds + " s; saw " + all());
      if (type.isInstance(event)) {
        return event;
      }
    }
  }

  public synchronized List<Event<A, C>> all() {
    return new ArrayList<>(all);
  }
}
