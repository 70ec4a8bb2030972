package dev.tether.grpc;

import io.grpc.ForwardingChannelBuilder2;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import java.util.ArrayList;
import java.util.List;
import java.util.function.UnaryOperator;

/**
 * Wraps a channel factory and records every channel built from its builders, optionally
 * replacing each with a wrapper (a channel that misbehaves in a way real ones rarely do).
 */
public final class RecordingFactory<A> implements ChannelFactory<A> {
  private final ChannelFactory<A> delegate;
  private final UnaryOperator<ManagedChannel> wrap;
  private final List<ManagedChannel> created = new ArrayList<>();

  public RecordingFactory(ChannelFactory<A> delegate) {
    this(delegate, UnaryOperator.identity());
  }

  /** Hands out {@code wrap} of each channel built, and records the wrapper. */
  public RecordingFactory(ChannelFactory<A> delegate, UnaryOperator<ManagedChannel> wrap) {
    this.delegate = delegate;
    this.wrap = wrap;
  }

  public synchronized List<ManagedChannel> created() {
    return new ArrayList<>(created);
  }

  @Override
  public ManagedChannelBuilder<?> newChannelBuilder(A address) {
    ManagedChannelBuilder<?> builder = delegate.newChannelBuilder(address);
    return new ForwardingChannelBuilder2<Recording>() {
      @Override
      protected ManagedChannelBuilder<?> delegate() {
        return builder;
      }

      @Override
      public ManagedChannel build() {
        ManagedChannel channel = wrap.apply(super.build());
        synchronized (RecordingFactory.this) {
          created.add(channel);
        }
        return channel;
      }
    };
  }

  /** The self type of the forwarding builder above. */
  private abstract static class Recording extends ForwardingChannelBuilder2<Recording> {}
}
