package dev.tether.grpc;

import io.grpc.ClientCall;
import io.grpc.KnownLength;
import io.grpc.MethodDescriptor;
import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

/**
 * What a {@link MovingCall} keeps for a move: the caller's operations since {@code start}, in
 * order, bounded in bytes like gRPC's retry buffers, per call ({@value #MAX_BYTES} bytes) and for
 * all calls of a channel ({@link PersistentChannel#reserve}). Each operation counts {@value
 * #OPERATION_BYTES} bytes besides its message, so operations without one are bounded too. Guarded
 * by the mover's lock, but for {@link #sizeOf}.
 */
final class KeptOperations<ReqT, RespT> {
  /** The most bytes one call keeps: gRPC's default per-call retry buffer. */
  static final long MAX_BYTES = 1 << 20;
  /**
   * The most bytes a call being moved keeps past {@link #MAX_BYTES}: gRPC's default bound on one
   * message, so that any one message it could send moves along.
   */
  static final long MAX_BYTES_PAST_THE_BOUND = 4 << 20;
  private static final long OPERATION_BYTES = 16;

  private final PersistentChannel owner;
  private final MethodDescriptor<ReqT, RespT> method;
  /** Room for a unary call's operations (request, message, half-close), kept without growing. */
  private static final int USUAL_OPERATIONS = 4;

  private List<Consumer<ClientCall<ReqT, RespT>>> operations = new ArrayList<>(USUAL_OPERATIONS);
  private long bytes;
  private long bytesPastTheBound;

  KeptOperations(PersistentChannel owner, MethodDescriptor<ReqT, RespT> method) {
    this.owner = owner;
    this.method = method;
  }

  /**
   * The serialized size of a streamed request, as its marshaller's stream tells ({@code
   * KnownLength}, as protobuf's, or else a positive {@code available()}); past any bound if it
   * does not tell. The stream asked for is closed, unless the message is itself a stream (a
   * marshaller that passes streams through, as a proxy's does, returns it or a wrapper of it):
   * the real call has yet to send that one.
   */
  long sizeOf(ReqT message) {
    InputStream stream = null;
    try {
      stream = method.streamRequest(message);
      int available = stream.available();
      return stream instanceof KnownLength || available > 0 ? available : MAX_BYTES + 1;
    } catch (IOException | RuntimeException e) {
      return 0; // the real call reports a marshaller that fails
    } finally {
      if (stream != null && !(message instanceof InputStream)) {
        try {
          stream.close();
        } catch (IOException | RuntimeException e) {
          // only measured: nothing was read from it
        }
      }
    }
  }

  /** Keeps {@code operation}, unless that would pass a bound: then returns false, keeping it not. */
  boolean keep(Consumer<ClientCall<ReqT, RespT>> operation, long messageBytes) {
    long more = messageBytes + OPERATION_BYTES;
    if (bytes + more > MAX_BYTES || !owner.reserve(more)) {
      return false;
    }
    operations.add(operation);
    bytes += more;
    return true;
  }

  /**
   * Keeps {@code operation} past the bounds, for a call being moved, which keeps nothing once the
   * move is done ({@link #drop} follows it): up to {@link #MAX_BYTES_PAST_THE_BOUND} more, not
   * reserved from the channel's bound. Returns false, keeping it not, past that.
   */
  boolean keepPastTheBound(Consumer<ClientCall<ReqT, RespT>> operation, long messageBytes) {
    long more = messageBytes + OPERATION_BYTES;
    if (bytesPastTheBound + more > MAX_BYTES_PAST_THE_BOUND) {
      return false;
    }
    operations.add(operation);
    bytesPastTheBound += more;
    return true;
  }

  /** Applies every kept operation to {@code call}, in order. */
  void replayInto(ClientCall<ReqT, RespT> call) {
    for (Consumer<ClientCall<ReqT, RespT>> operation : operations) {
      operation.accept(call);
    }
  }

  /** Keeps nothing more, and gives the bytes back to the channel. */
  void drop() {
    if (operations.size() > USUAL_OPERATIONS) {
      operations = new ArrayList<>(0); // a long stream's: its grown array goes with it
    } else {
      operations.clear(); // a unary call's: nothing to give back
    }
    owner.release(bytes);
    bytes = 0;
    bytesPastTheBound = 0;
  }
}
