package dev.tether.grpc;

import io.grpc.CallCredentials;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.ClientInterceptor;
import io.grpc.ClientStreamTracer;
import io.grpc.Context;
import io.grpc.InternalMayRequireSpecificExecutor;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import java.util.concurrent.Executor;
import java.util.concurrent.atomic.AtomicInteger;
import org.jspecify.annotations.Nullable;

/**
 * One attempt of a {@link MovingCall}: a {@link DelayedCall} that gets a connection (a
 * wait-for-ready attempt may wait for one), then runs as a real call on that connection's
 * channel. It listens to the real call for the mover, tells it when its connection closes, and
 * knows whether its stream may have been sent.
 *
 * <p>Whether the call may have reached a server: while its stream is alive, from the moment a
 * transport took it ({@code streamCreated}), even with its headers still queued, since a
 * transport that drains (after a GOAWAY, or a close on purpose) may still write them; once the
 * stream ended, only if its headers were written out ({@code outboundHeaders}): one that was still
 * queued in the client, say behind the server's limit of concurrent streams, never will be. A
 * stream that gRPC retries transparently (the server never processed it) counts as neither again,
 * unless the call hedges. So a moved call never reached a server.
 *
 * <p>A transport takes a stream through a gate ({@link #seal()}), which {@link #SEAL}, the
 * innermost interceptor of {@link GrpcConnection#channelForMoves()}, adds as the last of the
 * call's credentials (the caller's own, and any the customizers' interceptors set, run first and
 * see nothing of it): the mover seals it before it cancels an unsent attempt to move the call,
 * and a transport that reaches it after that gets a stream that fails UNAVAILABLE, never started.
 * Without the gate, a channel that reconnects on its own after a GOAWAY could take the stream
 * between the mover's look and its cancel, and write it out: such a call may have reached the
 * server, so it could no longer move, and failed.
 */
final class CallAttempt<ReqT, RespT> extends ClientCall.Listener<RespT>
    implements PersistentChannel.Waiter, Runnable {
  private final MovingCall<ReqT, RespT> mover;
  private final MethodDescriptor<ReqT, RespT> method;
  private final CallOptions options;
  private final Context context;
  final DelayedCall<ReqT, RespT> call;
  volatile @Nullable GrpcConnection<?> connection;
  /** A transport took a stream of this attempt. */
  private volatile boolean created;
  /** A stream of this attempt wrote its headers out. */
  private volatile boolean sent;
  /** Where it waits for a connection in its channel's line; -1 until it waits. */
  private volatile long place = -1;
  /** Set under the mover's lock when the call moved on: what reaches this attempt is stale. */
  volatile boolean abandoned;
  /**
   * Set under the mover's lock when the mover cancelled this attempt to move the call, its
   * connection having closed: a CANCELLED end is then the mover's, not the caller's.
   */
  volatile boolean endedToMove;

  /** Why the mover ends an attempt: its cancel's message, and the sealed stream's status. */
  static final String MOVING = "its connection closed before the call was sent; moving it";

  private static final int OPEN = 0;
  private static final int TAKEN = 1;
  private static final int SEALED = 2;
  /** OPEN until a transport takes a stream (TAKEN) or the mover seals the attempt (SEALED). */
  private final AtomicInteger gate = new AtomicInteger(OPEN);

  CallAttempt(
      MovingCall<ReqT, RespT> mover,
      MethodDescriptor<ReqT, RespT> method,
      CallOptions options,
      Context context) {
    this.mover = mover;
    this.method = method;
    this.options = options;
    this.context = context;
    this.call = new DelayedCall<>(Calls.executorOf(options), context);
  }

  /**
   * Whether this attempt's call may have reached a server: once its stream ended, if it wrote its
   * headers out; while it is alive (and may still be written, say on a transport that drains after
   * a GOAWAY), if a transport took it at all.
   */
  boolean mayHaveReachedServer(boolean streamEnded) {
    return streamEnded ? sent : created;
  }

  @Override
  public void connectTo(GrpcConnection<?> connection) {
    if (attach(connection)) {
      watch(connection);
    }
  }

  /** Gives this attempt its real call on {@code connection}; false if it ended meanwhile. */
  boolean attach(GrpcConnection<?> connection) {
    if (!mover.takes(this, connection)) {
      return false;
    }
    ClientCall<ReqT, RespT> real;
    Context previous = context.attach(); // the real call honours the caller's context
    try {
      real =
          connection
              .channelForMoves()
              .newCall(method, options.withStreamTracerFactory(new Tracer()));
    } catch (Throwable e) { // a user's interceptor; even an Error ends only this call
      call.failIfNotSet(Status.fromThrowable(e).withDescription("the call failed to start: " + e));
      return false;
    } finally {
      context.detach(previous);
    }
    if (!call.setCall(real)) {
      // The attempt ended meanwhile (a cancel, its deadline, its context): the real call is never
      // started, but the channel's interceptors saw it made, so it is ended too.
      Calls.cancelUnstarted(real, "the call ended before it started");
      return false;
    }
    return true;
  }

  /**
   * Closes the gate to transports, so that no stream of this attempt starts from now on; false if
   * a transport took one already (since the last transparent retry), which may be sent.
   */
  boolean seal() {
    return gate.compareAndSet(OPEN, SEALED) || gate.get() == SEALED;
  }

  /** Whether a transport may take a stream now: the gate was not sealed. */
  private boolean take() {
    while (true) {
      int now = gate.get();
      if (now == SEALED) {
        return false;
      }
      if (now == TAKEN || gate.compareAndSet(OPEN, TAKEN)) {
        return true;
      }
    }
  }

  /** Tells the mover if {@code connection} closes while the call could still move. */
  void watch(GrpcConnection<?> connection) {
    connection.addCloseWatcher(this); // runs at once if the connection closed meanwhile
    if (!mover.movable(this)) {
      connection.removeCloseWatcher(this); // committed or ended meanwhile
    }
  }

  @Override
  public void fail(Status status) {
    call.failIfNotSet(status);
  }

  @Override
  public void waitsAt(long place) {
    this.place = place;
  }

  @Override
  public long place() {
    return place;
  }

  /** The connection closed. */
  @Override
  public void run() {
    mover.connectionClosed(this);
  }

  @Override
  public void onHeaders(Metadata headers) {
    mover.answered(this);
    mover.deliver(this, ToCaller.Callback.HEADERS, headers);
  }

  @Override
  public void onMessage(RespT message) {
    mover.answered(this);
    mover.deliver(this, ToCaller.Callback.MESSAGE, message);
  }

  @Override
  public void onReady() {
    mover.deliver(this, ToCaller.Callback.READY, null);
  }

  @Override
  public void onClose(Status status, Metadata trailers) {
    if (call.isAfterAFailedStart(status)) {
      return; // the call ends with why its start failed, once
    }
    mover.attemptClosed(this, status, trailers);
  }

  /**
   * The innermost interceptor of a connection's channel for moving calls: gives an attempt's call
   * its gate, after whatever credentials the call already has. Calls that are not attempts (they
   * carry no {@link Tracer}) pass as they are.
   */
  static final ClientInterceptor SEAL =
      new ClientInterceptor() {
        @Override
        public <Q, R> ClientCall<Q, R> interceptCall(
            MethodDescriptor<Q, R> method, CallOptions options, Channel next) {
          // From the end: the attempt's own tracer is the last one (a channel that goes through
          // another PersistentChannel carries that one's attempt's tracer too, earlier).
          java.util.List<ClientStreamTracer.Factory> factories = options.getStreamTracerFactories();
          for (int i = factories.size() - 1; i >= 0; i--) {
            if (factories.get(i) instanceof CallAttempt<?, ?>.Tracer tracer) {
              return next.newCall(
                  method,
                  options.withCallCredentials(tracer.attempt().new Gate(options.getCredentials())));
            }
          }
          return next.newCall(method, options);
        }
      };

  /**
   * The attempt's call credentials: the ones the call had, if any, then the gate. gRPC applies
   * them on the transport that takes the stream, just before it creates it; a sealed gate fails the
   * stream instead, with nothing sent.
   */
  private final class Gate extends CallCredentials implements InternalMayRequireSpecificExecutor {
    private final @Nullable CallCredentials callers;

    Gate(@Nullable CallCredentials callers) {
      this.callers = callers;
    }

    /** As the caller's credentials would have it: gRPC asks only the outermost ones. */
    @Override
    public boolean isSpecificExecutorRequired() {
      return callers instanceof InternalMayRequireSpecificExecutor mayRequire
          && mayRequire.isSpecificExecutorRequired();
    }

    @Override
    public void applyRequestMetadata(
        RequestInfo info, Executor executor, MetadataApplier applier) {
      if (callers == null) {
        pass(applier, new Metadata());
        return;
      }
      callers.applyRequestMetadata(
          info,
          executor,
          new MetadataApplier() {
            @Override
            public void apply(Metadata headers) {
              pass(applier, headers);
            }

            @Override
            public void fail(Status status) {
              applier.fail(status);
            }
          });
    }

    private void pass(MetadataApplier applier, Metadata headers) {
      if (take()) {
        applier.apply(headers);
      } else {
        applier.fail(
            Status.UNAVAILABLE.withDescription(MOVING));
      }
    }
  }

  /** Tells whether a transport took the attempt's stream. */
  private final class Tracer extends ClientStreamTracer.Factory {
    CallAttempt<ReqT, RespT> attempt() {
      return CallAttempt.this;
    }

    private final ClientStreamTracer tracer =
        new ClientStreamTracer() {
          @Override
          public void streamCreated(io.grpc.Attributes transportAttributes, Metadata headers) {
            created = true;
          }

          @Override
          public void outboundHeaders() {
            sent = true;
          }
        };

    @Override
    public ClientStreamTracer newClientStreamTracer(
        ClientStreamTracer.StreamInfo info, Metadata headers) {
      if (info.isTransparentRetry() && info.getPreviousAttempts() == 0 && !info.isHedging()) {
        // gRPC retries a stream transparently only when the server never processed it; with no
        // earlier attempt of a retry policy, nothing of this call reached a server.
        created = false;
        sent = false;
        gate.compareAndSet(TAKEN, OPEN);
        GrpcConnection<?> current = connection;
        if (current != null && current.isClosed()) {
          // The close came first and found the call sent; now it is not. Not from inside
          // gRPC's stream creation, though.
          Calls.execute(Calls.sharedPool(), CallAttempt.this);
        }
      }
      return tracer;
    }
  }
}
