package dev.tether.grpc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.common.util.concurrent.ListenableFuture;
import io.grpc.ConnectivityState;
import io.grpc.ManagedChannel;
import java.time.Duration;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * A connect attempt always ends, and a failed one always shuts its channel down at once, even when
 * the channel or the scheduler misbehaves.
 */
class ConnectAttemptTest {
  @RegisterExtension final Servers servers = new Servers();

  /** A channel that claims to be connecting forever and whose getState(false) throws. */
  private static final class NeverReadyThenBroken extends ForwardingManagedChannel {
    NeverReadyThenBroken(ManagedChannel delegate) {
      super(delegate);
    }

    @Override
    public ConnectivityState getState(boolean requestConnection) {
      if (requestConnection) {
        return ConnectivityState.CONNECTING;
      }
      throw new IllegalStateException("getState broke");
    }

    @Override
    public void notifyWhenStateChanged(ConnectivityState source, Runnable callback) {
      // never called back: the channel never leaves CONNECTING
    }
  }

  @Test
  void timeout_failsTheAttempt_evenWhenReadingTheStateForItsMessageThrows() throws Exception {
    servers.inProcess("never-ready");
    RecordingFactory<String> channels =
        new RecordingFactory<>(ChannelFactory.inProcess(), NeverReadyThenBroken::new);
    ListenableFuture<GrpcConnection<String>> attempt =
        GrpcConnector.builder(channels)
            .connectTimeout(Duration.ofMillis(100))
            .build()
            .connect("never-ready");

    ExecutionException failed =
        assertThrows(ExecutionException.class, () -> attempt.get(10, TimeUnit.SECONDS));
    TimeoutException timeout = assertInstanceOf(TimeoutException.class, failed.getCause());
    String message = String.valueOf(timeout.getMessage());
    assertTrue(message.contains("connect timeout of PT0.1S"), message);
    assertTrue(message.contains("getState broke"), message);
    ManagedChannel channel = channels.created().get(0);
    assertTrue(channel.isShutdown(), "the timed-out attempt's channel");
    assertTrue(channel.awaitTermination(10, TimeUnit.SECONDS));
    assertEquals(1, channels.created().size());
  }
}
