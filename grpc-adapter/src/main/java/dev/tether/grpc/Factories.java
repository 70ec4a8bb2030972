package dev.tether.grpc;

import static java.util.Objects.requireNonNull;

import com.google.common.net.HostAndPort;
import io.grpc.InsecureChannelCredentials;
import io.grpc.inprocess.InProcessChannelBuilder;

/**
 * The stateless ready-made channel factories, made once: every call of {@link
 * ChannelFactory#plaintext()} or {@link ChannelFactory#inProcess()} returns the same instance, so
 * two declarations that use them compare equal.
 */
final class Factories {
  private Factories() {}

  static final ChannelFactory<HostAndPort> PLAINTEXT =
      ChannelFactory.netty(InsecureChannelCredentials.create());

  static final ChannelFactory<String> IN_PROCESS =
      name -> InProcessChannelBuilder.forName(requireNonNull(name, "name"));
}
