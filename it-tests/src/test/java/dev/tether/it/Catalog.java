package dev.tether.it;

import com.google.common.net.HostAndPort;
import com.google.common.util.concurrent.Futures;
import dev.tether.AddressLookup;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * A service catalog for tests: replicas publish their address and withdraw it when they go down.
 * Its lookup answers the first published address, or fails when none is.
 */
final class Catalog {
  private final List<HostAndPort> published = new CopyOnWriteArrayList<>();

  void publish(HostAndPort address) {
    published.add(address);
  }

  void withdraw(HostAndPort address) {
    published.remove(address);
  }

  AddressLookup<HostAndPort> lookup() {
    return () -> {
      if (published.isEmpty()) {
        return Futures.immediateFailedFuture(new IllegalStateException("no replica published"));
      }
      return Futures.immediateFuture(published.get(0));
    };
  }
}
