package dev.tether.grpc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.common.util.concurrent.SettableFuture;
import dev.tether.PersistentConnection;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.ClientInterceptor;
import io.grpc.Context;
import io.grpc.ForwardingClientCall;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import io.grpc.inprocess.InProcessChannelBuilder;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Wait-for-ready calls at the edges: an interceptor that throws, the caller's context in
 * callbacks, and a cancel that races start().
 */
class CallEdgesTest {
  private static final Context.Key<String> KEY = Context.key("caller");

  @RegisterExtension final Servers servers = new Servers();
  private final SettableFuture<String> lookup = SettableFuture.create();
  private @Nullable PersistentConnection<String, GrpcConnection<String>> connection;

  @AfterEach
  void close() throws Exception {
    if (connection != null) {
      connection.close().get(10, TimeUnit.SECONDS);
    }
  }

  private PersistentChannel channel(String name, @Nullable ClientInterceptor interceptor) {
    servers.inProcess(name);
    return channelTo(name, interceptor);
  }

  /** A persistent channel to the in-process server {@code name}, which the test starts. */
  private PersistentChannel channelTo(String name, @Nullable ClientInterceptor interceptor) {
    PersistentConnection<String, GrpcConnection<String>> made =
        GrpcConnector.persistentConnection(
                name,
                (ChannelFactory<String>)
                    address -> {
                      InProcessChannelBuilder builder = InProcessChannelBuilder.forName(address);
                      return interceptor == null ? builder : builder.intercept(interceptor);
                    })
            .addressLookup(() -> lookup)
            .build();
    connection = made;
    return PersistentChannel.of(made);
  }

  /** Records how a call ended, and the caller's context value in its callbacks. */
  private static final class Recorder extends ClientCall.Listener<String> {
    final AtomicInteger closes = new AtomicInteger();
    final CompletableFuture<Status> closed = new CompletableFuture<>();
    volatile @Nullable String keyInOnMessage;
    volatile @Nullable String keyInOnClose;

    @Override
    public void onMessage(String message) {
      keyInOnMessage = KEY.get();
    }

    @Override
    public void onClose(Status status, Metadata trailers) {
      keyInOnClose = KEY.get();
      closes.incrementAndGet();
      closed.complete(status);
    }
  }

  private static Recorder unary(Channel channel, MethodDescriptor<String, String> method) {
    return unary(channel, method, new Metadata());
  }

  private static Recorder unary(
      Channel channel, MethodDescriptor<String, String> method, Metadata headers) {
    ClientCall<String, String> call =
        channel.newCall(method, CallOptions.DEFAULT.withWaitForReady().withDeadlineAfter(10, TimeUnit.SECONDS));
    Recorder recorder = new Recorder();
    call.start(recorder, headers);
    call.request(1);
    call.sendMessage("x");
    call.halfClose();
    return recorder;
  }

  private static final ClientInterceptor THROWS_IN_START = throwingFromStart(false, "the interceptor refuses");

  /** Starts the call it wraps, then throws: the real call is running when the start fails. */
  private static final ClientInterceptor THROWS_AFTER_START =
      throwingFromStart(true, "the interceptor refuses, late");

  /** An interceptor whose calls' start throws {@code message}, after starting the real call or not. */
  private static ClientInterceptor throwingFromStart(boolean afterStarting, String message) {
    return startingWith(
        (headers, realStart) -> {
          if (afterStarting) {
            realStart.run();
          }
          throw new IllegalStateException(message);
        });
  }

  /**
   * An interceptor whose calls' start runs {@code start}, given the headers and what starts the
   * real call.
   */
  private static ClientInterceptor startingWith(
      java.util.function.BiConsumer<Metadata, Runnable> start) {
    return new ClientInterceptor() {
      @Override
      public <Q, R> ClientCall<Q, R> interceptCall(
          MethodDescriptor<Q, R> method, CallOptions options, Channel next) {
        return new ForwardingClientCall.SimpleForwardingClientCall<Q, R>(next.newCall(method, options)) {
          @Override
          public void start(Listener<R> listener, Metadata headers) {
            start.accept(headers, () -> super.start(listener, headers));
          }
        };
      }
    };
  }

  private static final ClientInterceptor THROWS_IN_NEW_CALL =
      new ClientInterceptor() {
        @Override
        public <Q, R> ClientCall<Q, R> interceptCall(
            MethodDescriptor<Q, R> method, CallOptions options, Channel next) {
          throw new IllegalStateException("the interceptor refuses");
        }
      };

  /**
   * As on a plain channel: a listener that throws ends the call, gets no other callback but its
   * {@code onClose}, and the caller's later operations are ignored.
   */
  @org.junit.jupiter.params.ParameterizedTest
  @org.junit.jupiter.params.provider.ValueSource(booleans = {false, true})
  void aListenerThatThrows_endsTheCallCancelled_andLaterOperationsAreIgnored(boolean waited)
      throws Exception {
    PersistentChannel channel = channel("listener-throws", null);
    if (!waited) {
      lookup.set("listener-throws");
      java.util.Objects.requireNonNull(connection).connected().get(10, TimeUnit.SECONDS);
    }
    AtomicInteger messages = new AtomicInteger();
    CompletableFuture<Void> threw = new CompletableFuture<>();
    CompletableFuture<Status> closed = new CompletableFuture<>();
    AtomicInteger closes = new AtomicInteger();
    ClientCall<String, String> call =
        channel.newCall(
            Echo.CHAT, CallOptions.DEFAULT.withWaitForReady().withDeadlineAfter(10, TimeUnit.SECONDS));
    call.start(
        new ClientCall.Listener<String>() {
          @Override
          public void onMessage(String message) {
            messages.incrementAndGet();
            threw.complete(null);
            throw new IllegalStateException("the listener fails");
          }

          @Override
          public void onClose(Status status, Metadata trailers) {
            closes.incrementAndGet();
            closed.complete(status);
          }
        },
        new Metadata());
    call.request(3);
    call.sendMessage("a");
    call.sendMessage("b");
    if (waited) {
      lookup.set("listener-throws");
    }
    threw.get(10, TimeUnit.SECONDS);

    call.sendMessage("c"); // none of these throws, as on a plain channel
    call.request(1);
    call.halfClose();

    // As gRPC: CANCELLED with what the listener threw, even when the server, which got the
    // half-close before the cancel, had already ended the call OK.
    Status status = closed.get(10, TimeUnit.SECONDS);
    assertEquals(Status.Code.CANCELLED, status.getCode(), status.toString());
    assertTrue(status.getCause() instanceof IllegalStateException, status.toString());
    assertEquals(1, messages.get(), "no message after the listener threw");
    assertEquals(1, closes.get());
  }

  /**
   * gRPC's rule, made certain: the listener half-closes, the server ends the call OK, and only
   * then does the listener throw; the call still ends CANCELLED with what it threw, not OK.
   */
  @Test
  void aListenerThatThrows_afterTheServerEndedTheCallOk_seesTheCallCancelled() throws Exception {
    CompletableFuture<Void> serverClosed = new CompletableFuture<>();
    servers.inProcess(
        "throws-after-ok",
        new io.grpc.ServerInterceptor() {
          @Override
          public <Q, R> io.grpc.ServerCall.Listener<Q> interceptCall(
              io.grpc.ServerCall<Q, R> call, Metadata headers, io.grpc.ServerCallHandler<Q, R> next) {
            return next.startCall(
                new io.grpc.ForwardingServerCall.SimpleForwardingServerCall<Q, R>(call) {
                  @Override
                  public void close(Status status, Metadata trailers) {
                    super.close(status, trailers);
                    serverClosed.complete(null);
                  }
                },
                headers);
          }
        });
    PersistentChannel channel = channelTo("throws-after-ok", null);
    AtomicReference<ClientCall<String, String>> started = new AtomicReference<>();
    CompletableFuture<Status> closed = new CompletableFuture<>();
    ClientCall<String, String> call =
        channel.newCall(
            Echo.CHAT, CallOptions.DEFAULT.withWaitForReady().withDeadlineAfter(10, TimeUnit.SECONDS));
    started.set(call);
    call.start(
        new ClientCall.Listener<String>() {
          @Override
          public void onMessage(String message) {
            java.util.Objects.requireNonNull(started.get()).halfClose();
            try {
              serverClosed.get(10, TimeUnit.SECONDS); // its OK is on its way to this call
            } catch (Exception e) {
              throw new AssertionError(e);
            }
            throw new IllegalStateException("the listener fails after the server's OK");
          }

          @Override
          public void onClose(Status status, Metadata trailers) {
            closed.complete(status);
          }
        },
        new Metadata());
    call.request(1);
    call.sendMessage("a");
    lookup.set("throws-after-ok");

    Status status = closed.get(10, TimeUnit.SECONDS);
    assertEquals(Status.Code.CANCELLED, status.getCode(), status.toString());
    assertEquals(
        "the listener fails after the server's OK",
        java.util.Objects.requireNonNull(status.getCause()).getMessage());
    assertTrue(serverClosed.isDone());
  }

  private static final Metadata.Key<String> EXPLODE =
      Metadata.Key.of("explode", Metadata.ASCII_STRING_MARSHALLER);

  /** Throws an Error from the start of a call whose headers carry {@link #EXPLODE}. */
  private static final ClientInterceptor ERROR_IN_START =
      startingWith(
          (headers, realStart) -> {
            if (headers.containsKey(EXPLODE)) {
              throw new ServiceConfigurationError("the interceptor's class is broken");
            }
            realStart.run();
          });

  /** An Error, as a broken class or a failed assertion in an interceptor throws. */
  private static final class ServiceConfigurationError extends Error {
    ServiceConfigurationError(String message) {
      super(message);
    }
  }

  /** Throws an Error when a COLLECT call is made on the channel: the others pass. */
  private static final ClientInterceptor ERROR_IN_NEW_CALL =
      new ClientInterceptor() {
        @Override
        public <Q, R> ClientCall<Q, R> interceptCall(
            MethodDescriptor<Q, R> method, CallOptions options, Channel next) {
          if (method.getFullMethodName().equals(Echo.COLLECT.getFullMethodName())) {
            throw new ServiceConfigurationError("the interceptor's class is broken");
          }
          return next.newCall(method, options);
        }
      };

  /** As below, for an Error from {@code interceptCall}, when the waiting call's real call is made. */
  @Test
  void interceptorThatThrowsAnErrorMakingTheCall_endsOnlyThatWaitingCall() throws Exception {
    PersistentChannel channel = channel("error-in-new-call", ERROR_IN_NEW_CALL);
    java.util.List<Recorder> calls = new java.util.ArrayList<>();
    for (int i = 0; i < 10; i++) {
      calls.add(unary(channel, i == 4 ? Echo.COLLECT : Echo.SAY));
    }
    lookup.set("error-in-new-call");
    assertOnlyTheseEndedWithTheError(calls, java.util.Set.of(4));
  }

  /** The calls numbered {@code broken} end UNKNOWN with the interceptor's Error; the others, OK. */
  private static void assertOnlyTheseEndedWithTheError(
      java.util.List<Recorder> calls, java.util.Set<Integer> broken) throws Exception {
    for (int i = 0; i < calls.size(); i++) {
      Status status = calls.get(i).closed.get(5, TimeUnit.SECONDS);
      if (broken.contains(i)) {
        assertEquals(Status.Code.UNKNOWN, status.getCode(), status.toString());
        assertTrue(status.getCause() instanceof ServiceConfigurationError, status.toString());
      } else {
        assertEquals(Status.Code.OK, status.getCode(), i + ": " + status);
      }
      assertEquals(1, calls.get(i).closes.get());
    }
  }

  /**
   * An interceptor that throws an Error when a waiting call starts on the new connection ends
   * that call, with the Error as its cause, and no other: the calls that wait with it still run.
   */
  @Test
  void interceptorThatThrowsAnError_endsOnlyThatWaitingCall() throws Exception {
    PersistentChannel channel = channel("error-in-start", ERROR_IN_START);
    java.util.List<Recorder> calls = new java.util.ArrayList<>();
    for (int i = 0; i < 20; i++) {
      Metadata headers = new Metadata();
      if (i == 3 || i == 11) {
        headers.put(EXPLODE, "yes");
      }
      calls.add(unary(channel, Echo.SAY, headers));
    }
    lookup.set("error-in-start");
    assertOnlyTheseEndedWithTheError(calls, java.util.Set.of(3, 11));
  }

  @Test
  void interceptorThatThrowsFromStart_endsTheWaitingCall_andTheCallOnAnOpenConnection()
      throws Exception {
    PersistentChannel channel = channel("throws-in-start", THROWS_IN_START);
    Recorder waited = unary(channel, Echo.SAY);
    lookup.set("throws-in-start");
    assertEquals(Status.Code.UNKNOWN, waited.closed.get(5, TimeUnit.SECONDS).getCode());

    java.util.Objects.requireNonNull(connection).connected().get(10, TimeUnit.SECONDS);
    Status direct = unary(channel, Echo.SAY).closed.get(5, TimeUnit.SECONDS);
    assertEquals(Status.Code.UNKNOWN, direct.getCode());
    assertTrue(String.valueOf(direct.getDescription()).contains("the interceptor refuses"), direct.toString());
    assertEquals(1, waited.closes.get());
  }

  @Test
  void interceptorThatThrowsAfterStartingTheRealCall_endsEveryCallOnce_withWhatItThrew()
      throws Exception {
    PersistentChannel channel = channel("throws-after-start", THROWS_AFTER_START);
    lookup.set("throws-after-start");
    java.util.Objects.requireNonNull(connection).connected().get(10, TimeUnit.SECONDS);
    java.util.List<Recorder> calls = new java.util.ArrayList<>();
    for (int i = 0; i < 200; i++) {
      calls.add(unary(channel, Echo.SAY));
    }
    for (Recorder call : calls) {
      // The real call's end (the cancel of what the failed start left running) is not a second
      // end, nor a race for the status: the call ends with what the start threw.
      Status status = call.closed.get(5, TimeUnit.SECONDS);
      assertEquals(Status.Code.UNKNOWN, status.getCode(), status.toString());
      assertTrue(
          String.valueOf(status.getDescription()).contains("the interceptor refuses, late"),
          status.toString());
    }
    for (Recorder call : calls) {
      assertEquals(1, call.closes.get());
    }
  }

  @Test
  void interceptorThatThrowsFromNewCall_endsTheWaitingCall() throws Exception {
    PersistentChannel channel = channel("throws-in-new-call", THROWS_IN_NEW_CALL);
    Recorder waited = unary(channel, Echo.SAY);
    lookup.set("throws-in-new-call");
    assertEquals(Status.Code.UNKNOWN, waited.closed.get(5, TimeUnit.SECONDS).getCode());
  }

  @Test
  void waitingCall_callbacksRunInTheCallersContext() throws Exception {
    PersistentChannel channel = channel("context", null);
    Recorder recorder = Context.current().withValue(KEY, "mine").call(() -> unary(channel, Echo.SAY));
    lookup.set("context");
    assertTrue(recorder.closed.get(5, TimeUnit.SECONDS).isOk());
    assertEquals("mine", recorder.keyInOnMessage);
    assertEquals("mine", recorder.keyInOnClose);
  }

  @Test
  void cancelRacingStartOnAnOpenConnection_endsEveryCallOnce_withCancelled() throws Exception {
    PersistentChannel channel = channel("cancel-at-start", null);
    lookup.set("cancel-at-start");
    java.util.Objects.requireNonNull(connection).connected().get(10, TimeUnit.SECONDS);
    // A thread that cancels whatever call it finds in the slot, as soon as it is there: the
    // cancel lands anywhere in start(), or just before or after it.
    AtomicReference<@Nullable ClientCall<String, String>> slot = new AtomicReference<>();
    AtomicBoolean stop = new AtomicBoolean();
    Thread canceller =
        new Thread(
            () -> {
              while (!stop.get()) {
                ClientCall<String, String> call = slot.getAndSet(null);
                if (call != null) {
                  call.cancel("racing start", null);
                }
              }
            });
    canceller.start();
    try {
      for (int i = 0; i < 20_000; i++) {
        ClientCall<String, String> call =
            channel.newCall(Echo.SLOW, CallOptions.DEFAULT.withWaitForReady());
        Recorder recorder = new Recorder();
        slot.set(call);
        call.start(recorder, new Metadata());
        slot.set(null);
        call.cancel("after start", null);
        Status status = recorder.closed.get(5, TimeUnit.SECONDS);
        assertEquals(Status.Code.CANCELLED, status.getCode(), "call " + i + ": " + status);
      }
    } finally {
      stop.set(true);
      canceller.join(10_000);
    }
  }

  /** Passes a request's stream through, as it is or wrapped, as a proxy's marshaller does. */
  private enum PassThrough implements MethodDescriptor.Marshaller<java.io.InputStream> {
    AS_IT_IS,
    WRAPPED;

    @Override
    public java.io.InputStream stream(java.io.InputStream value) {
      return this == AS_IT_IS ? value : new java.io.FilterInputStream(value) {};
    }

    @Override
    public java.io.InputStream parse(java.io.InputStream stream) {
      try {
        return new java.io.ByteArrayInputStream(stream.readAllBytes()); // gRPC closes it after
      } catch (java.io.IOException e) {
        throw new java.io.UncheckedIOException(e);
      }
    }
  }

  /** A request stream that can be read only before it is closed, as a pooled buffer's is. */
  private static final class ReadBeforeClose extends java.io.ByteArrayInputStream {
    private volatile boolean closed;

    ReadBeforeClose(byte[] bytes) {
      super(bytes);
    }

    @Override
    public synchronized int read() {
      checkOpen();
      return super.read();
    }

    @Override
    public synchronized int read(byte[] into, int offset, int length) {
      checkOpen();
      return super.read(into, offset, length);
    }

    private void checkOpen() {
      if (closed) {
        throw new IllegalStateException("read after close");
      }
    }

    @Override
    public void close() {
      closed = true;
    }
  }

  @org.junit.jupiter.params.ParameterizedTest
  @org.junit.jupiter.params.provider.EnumSource(PassThrough.class)
  void aPassThroughMarshallersRequestStream_isSentAsItIs_notClosedBeforeTheSend(PassThrough marshaller)
      throws Exception {
    MethodDescriptor<java.io.InputStream, java.io.InputStream> raw =
        MethodDescriptor.<java.io.InputStream, java.io.InputStream>newBuilder()
            .setType(MethodDescriptor.MethodType.UNARY)
            .setFullMethodName("test.Raw/Echo")
            .setRequestMarshaller(marshaller)
            .setResponseMarshaller(PassThrough.AS_IT_IS)
            .build();
    io.grpc.ServerServiceDefinition echo =
        io.grpc.ServerServiceDefinition.builder("test.Raw")
            .addMethod(
                raw,
                io.grpc.stub.ServerCalls.asyncUnaryCall(
                    (request, answer) -> {
                      answer.onNext(request);
                      answer.onCompleted();
                    }))
            .build();
    io.grpc.Server server =
        servers.netty("R", 0, io.grpc.InsecureServerCredentials.create(), b -> b.addService(echo));
    PersistentConnection<com.google.common.net.HostAndPort, GrpcConnection<com.google.common.net.HostAndPort>>
        made =
            GrpcConnector.persistentConnection("raw", ChannelFactory.plaintext())
                .addressLookup(
                    () -> com.google.common.util.concurrent.Futures.immediateFuture(Servers.address(server)))
                .build();
    PersistentChannel channel = PersistentChannel.of(made);
    try {
      byte[] bytes = "every byte, once".getBytes(java.nio.charset.StandardCharsets.UTF_8);
      java.io.InputStream answer =
          io.grpc.stub.ClientCalls.futureUnaryCall(
                  channel.newCall(
                      raw, CallOptions.DEFAULT.withWaitForReady().withDeadlineAfter(10, TimeUnit.SECONDS)),
                  new ReadBeforeClose(bytes))
              .get(10, TimeUnit.SECONDS);
      assertEquals(new String(bytes, java.nio.charset.StandardCharsets.UTF_8),
          new String(answer.readAllBytes(), java.nio.charset.StandardCharsets.UTF_8));
    } finally {
      made.close().get(10, TimeUnit.SECONDS);
    }
  }

  private static final Metadata.Key<String> TOKEN =
      Metadata.Key.of("x-token", Metadata.ASCII_STRING_MARSHALLER);

  /** Call credentials that add {@code token}, or, with none, fail UNAUTHENTICATED. */
  private static io.grpc.CallCredentials credentials(@Nullable String token) {
    return new io.grpc.CallCredentials() {
      @Override
      public void applyRequestMetadata(
          RequestInfo info, java.util.concurrent.Executor executor, MetadataApplier applier) {
        if (token == null) {
          applier.fail(Status.UNAUTHENTICATED.withDescription("no token"));
          return;
        }
        Metadata headers = new Metadata();
        headers.put(TOKEN, token);
        executor.execute(() -> applier.apply(headers)); // later, as a token fetch would
      }
    };
  }

  /** The caller's call credentials apply as they would on the raw channel, both ways. */
  @Test
  void theCallersCredentials_addTheirHeaders_orFailTheCallWithTheirStatus() throws Exception {
    AtomicReference<@Nullable String> seen = new AtomicReference<>();
    servers.track(
        io.grpc.inprocess.InProcessServerBuilder.forName("creds")
            .directExecutor()
            .addService(
                io.grpc.ServerInterceptors.intercept(
                    Echo.service("creds"),
                    new io.grpc.ServerInterceptor() {
                      @Override
                      public <Q, R> io.grpc.ServerCall.Listener<Q> interceptCall(
                          io.grpc.ServerCall<Q, R> call,
                          Metadata headers,
                          io.grpc.ServerCallHandler<Q, R> next) {
                        seen.set(headers.get(TOKEN));
                        return next.startCall(call, headers);
                      }
                    })));
    PersistentConnection<String, GrpcConnection<String>> made =
        GrpcConnector.persistentConnection(
                "creds", (ChannelFactory<String>) InProcessChannelBuilder::forName)
            .addressLookup(() -> lookup)
            .build();
    connection = made;
    PersistentChannel channel = PersistentChannel.of(made);
    lookup.set("creds");
    CallOptions options = CallOptions.DEFAULT.withWaitForReady().withDeadlineAfter(10, TimeUnit.SECONDS);

    assertEquals(
        "creds: hi",
        io.grpc.stub.ClientCalls.futureUnaryCall(
                channel.newCall(Echo.SAY, options.withCallCredentials(credentials("t-1"))), "hi")
            .get(10, TimeUnit.SECONDS));
    assertEquals("t-1", seen.get());

    seen.set(null);
    Status refused =
        Streams.statusOf(
            io.grpc.stub.ClientCalls.futureUnaryCall(
                channel.newCall(Echo.SAY, options.withCallCredentials(credentials(null))), "hi"));
    assertEquals(Status.Code.UNAUTHENTICATED, refused.getCode(), refused.toString());
    assertEquals("no token", refused.getDescription());
    assertEquals(null, seen.get(), "the server never got it");
  }


  /** Credentials that need the call's executor: what gRPC asks only of the outermost ones. */
  private static final class OnTheCallsExecutor extends io.grpc.CallCredentials
      implements io.grpc.InternalMayRequireSpecificExecutor {
    final CompletableFuture<java.util.concurrent.Executor> given = new CompletableFuture<>();

    @Override
    public boolean isSpecificExecutorRequired() {
      return true;
    }

    @Override
    public void applyRequestMetadata(
        RequestInfo info, java.util.concurrent.Executor executor, MetadataApplier applier) {
      given.complete(executor);
      applier.apply(new Metadata());
    }
  }

  /** Credentials that need the call's own executor get it, as on the raw channel. */
  @Test
  void credentialsThatNeedTheCallsExecutor_getIt() throws Exception {
    PersistentChannel channel = channel("executor", null);
    lookup.set("executor");
    java.util.concurrent.ExecutorService callsExecutor =
        java.util.concurrent.Executors.newSingleThreadExecutor();
    try {
      OnTheCallsExecutor credentials = new OnTheCallsExecutor();
      assertEquals(
          "executor: hi",
          io.grpc.stub.ClientCalls.futureUnaryCall(
                  channel.newCall(
                      Echo.SAY,
                      CallOptions.DEFAULT
                          .withWaitForReady()
                          .withExecutor(callsExecutor)
                          .withCallCredentials(credentials)
                          .withDeadlineAfter(10, TimeUnit.SECONDS)),
                  "hi")
              .get(10, TimeUnit.SECONDS));
      assertTrue(credentials.given.getNow(null) == callsExecutor, "the call's executor");
    } finally {
      callsExecutor.shutdownNow();
    }
  }

}
