package dev.tether.grpc;

import static org.junit.jupiter.api.Assertions.assertThrows;

import com.google.common.util.concurrent.ListenableFuture;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientCalls;
import io.grpc.stub.ClientResponseObserver;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.jspecify.annotations.Nullable;

/**
 * Streaming calls to {@link Echo} written as flow-controlled clients are: requests sent only from
 * the {@code onReady} handler while {@code isReady()}, responses requested one at a time. Each
 * returns a future of what the call got.
 */
public final class Streams {
  private Streams() {}

  /** A listener that hands each message to {@code onMessage} and completes {@code closed}. */
  static ClientCall.Listener<String> listener(
      java.util.function.Consumer<String> onMessage, CompletableFuture<Status> closed) {
    return new ClientCall.Listener<String>() {
      @Override
      public void onMessage(String message) {
        onMessage.accept(message);
      }

      @Override
      public void onClose(Status status, Metadata trailers) {
        closed.complete(status);
      }
    };
  }

  /**
   * Starts a bidirectional stream (CHAT) with {@code options} that holds the only call slot of a
   * replica allowing one call at a time, and waits until the server answered it once: it was
   * sent, and can no longer move. Completes with its status when it ends.
   */
  static CompletableFuture<Status> holdTheSlot(Channel channel, CallOptions options)
      throws Exception {
    CompletableFuture<String> answered = new CompletableFuture<>();
    CompletableFuture<Status> ended = new CompletableFuture<>();
    ClientCall<String, String> call = channel.newCall(Echo.CHAT, options);
    call.start(listener(answered::complete, ended), new Metadata());
    call.request(1);
    call.sendMessage("hold");
    answered.get(10, TimeUnit.SECONDS);
    return ended;
  }

  /** The status that the failed call of {@code call} ended with, within 10 s. */
  static Status statusOf(ListenableFuture<?> call) {
    ExecutionException e =
        assertThrows(ExecutionException.class, () -> call.get(10, TimeUnit.SECONDS));
    return ((StatusRuntimeException) Objects.requireNonNull(e.getCause())).getStatus();
  }

  /** Sends {@code n} messages to COLLECT; completes with the server's answer. */
  public static CompletableFuture<String> clientStream(Channel channel, CallOptions options, int n) {
    CompletableFuture<String> result = new CompletableFuture<>();
    ClientCalls.asyncClientStreamingCall(
        channel.newCall(Echo.COLLECT, options),
        new Observer<String>(result) {
          @Override
          public void beforeStart(ClientCallStreamObserver<String> requests) {
            sendOnReady(requests, n);
          }

          @Override
          public void onNext(String value) {
            result.complete(value);
          }
        });
    return result;
  }

  /** Asks REPEAT for {@code n} messages, one request at a time; completes with how many came. */
  public static CompletableFuture<Integer> serverStream(Channel channel, CallOptions options, int n) {
    CompletableFuture<Integer> result = new CompletableFuture<>();
    ClientCalls.asyncServerStreamingCall(
        channel.newCall(Echo.REPEAT, options),
        Integer.toString(n),
        new Counter(result) {
          @Override
          public void beforeStart(ClientCallStreamObserver<String> requests) {
            super.beforeStart(requests);
            requests.disableAutoRequestWithInitial(1);
          }
        });
    return result;
  }

  /** Sends {@code n} messages to CHAT from the onReady handler; completes with how many came back. */
  public static CompletableFuture<Integer> bidiStream(Channel channel, CallOptions options, int n) {
    CompletableFuture<Integer> result = new CompletableFuture<>();
    ClientCalls.asyncBidiStreamingCall(
        channel.newCall(Echo.CHAT, options),
        new Counter(result) {
          @Override
          public void beforeStart(ClientCallStreamObserver<String> requests) {
            super.beforeStart(requests);
            requests.disableAutoRequestWithInitial(1);
            sendOnReady(requests, n);
          }
        });
    return result;
  }

  /** Sends {@code n} messages, only while the stream is ready, then half-closes. */
  private static void sendOnReady(ClientCallStreamObserver<String> requests, int n) {
    int[] sent = {0};
    boolean[] completed = {false};
    requests.setOnReadyHandler(
        () -> {
          while (requests.isReady() && sent[0] < n) {
            requests.onNext("m" + sent[0]++);
          }
          if (sent[0] == n && !completed[0]) {
            completed[0] = true;
            requests.onCompleted();
          }
        });
  }

  private abstract static class Observer<T> implements ClientResponseObserver<String, String> {
    final CompletableFuture<T> result;

    Observer(CompletableFuture<T> result) {
      this.result = result;
    }

    @Override
    public void onError(Throwable t) {
      result.completeExceptionally(t);
    }

    @Override
    public void onCompleted() {}
  }

  /** Counts responses, asking for the next one after each. */
  private static class Counter extends Observer<Integer> {
    private @Nullable ClientCallStreamObserver<String> requests;
    private int received;

    Counter(CompletableFuture<Integer> result) {
      super(result);
    }

    @Override
    public void beforeStart(ClientCallStreamObserver<String> requests) {
      this.requests = requests;
    }

    @Override
    public void onNext(String value) {
      received++;
      java.util.Objects.requireNonNull(requests).request(1);
    }

    @Override
    public void onCompleted() {
      result.complete(received);
    }
  }
}
