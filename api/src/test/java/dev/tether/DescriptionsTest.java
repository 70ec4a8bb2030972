package dev.tether;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.google.common.util.concurrent.Futures;
import dev.tether.testing.IdleConnection;
import dev.tether.testing.VirtualTimeScheduler;
import org.junit.jupiter.api.Test;

/** What a user sees when printing events and subscriptions. */
class DescriptionsTest {
  @Test
  void eventsAndSubscriptions_sayWhatTheyAre() {
    VirtualTimeScheduler scheduler = VirtualTimeScheduler.create();
    PersistentConnection<String, IdleConnection> connection =
        PersistentConnection.<String, IdleConnection>builder("orders")
            .addressLookup(() -> Futures.immediateFuture("a"))
            .connector(address -> Futures.immediateFuture(new IdleConnection()))
            .scheduler(scheduler)
            .build();
    Subscription events = connection.subscribe(event -> {});
    Subscription states = connection.subscribeState(state -> {});
    assertEquals("Subscription[events of orders]", events.toString());
    assertEquals("Subscription[states of orders]", states.toString());
    events.close();
    assertEquals("Subscription[events of orders, closed]", events.toString());
    assertEquals("AttemptingToConnect", new Event.AttemptingToConnect<String, IdleConnection>().toString());
    assertEquals("Disconnected", new Event.Disconnected<String, IdleConnection>().toString());
    assertEquals("ObtainedAddress[address=a]", new Event.ObtainedAddress<String, IdleConnection>("a").toString());
    states.close();
    connection.close();
  }
}
