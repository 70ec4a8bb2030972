package dev.tether.grpc;

import io.grpc.ForwardingChannelBuilder2;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import java.util.ArrayList;
import java.util.List;

/** Wraps a channel factory and records every channel built from its builders. */
public final class RecordingFactory<A> implements ChannelFactory<A> {
  private final ChannelFactory<A> delegate;
  private final List<ManagedChannel> created = new ArrayList<>();

  public RecordingFactory(ChannelFactory<A> delegate) {
    this.delegate = delegate;
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
        ManagedChannel channel = super.build();
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
