// The first interceptor of every call, for every service: it bounds what calls can make this
// process hold and do, before any key is checked or any handler runs (the numbers are in
// transport-limits.ts).
//  - Request metadata over MAX_METADATA_BYTES is refused.
//  - The API's calls are admitted by their key (admission.ts), on their metadata.
//  - At most MAX_CALLS_AWAITING_REQUEST calls may wait for their request; beyond that the one
//    that has waited longest is refused.
//  - Streams of the services that need no key (health Watch, reflection) are capped per pool.
//  - API calls run at most maxRunningCalls at once; the others wait, connections taking turns
//    (fair-queue.ts), at most MAX_WAITING_CALLS of them.
//  - Unread response bytes are bounded per connection and in total (unread-responses.ts): over
//    either bound, an API call is refused before its handler runs (so the running calls can
//    overshoot by one response each), and a streaming response instead of being queued. Calls
//    with an unread response are at most MAX_CALLS_WITH_UNREAD_RESPONSES: beyond, the one that has
//    waited longest has its stream reset.
//  - A response that has not left by the call's deadline, or within RESPONSE_SEND_TIMEOUT_MS of
//    its last progress, has its stream reset: a stream that will not read is ended, not buffered.
//  - A unary call is over at its deadline (the client's, else DEFAULT_CALL_BUDGET_MS), whatever
//    it is waiting for.
//  - A call answered before the client finished sending (a refusal) has its stream reset with
//    NO_ERROR once the answer is out (RFC 9113 §8.1), so it stops holding a stream.
import { constants as http2 } from 'node:http2';
import type { Metadata, ServerInterceptor, StatusObject } from '@grpc/grpc-js';
import { type DomainError, deadlineExceeded, limitExceeded } from '../domain/errors';
import type { Admission } from './admission';
import { toStatusError } from './errors';
import { FairQueue } from './fair-queue';
import { metadataSize } from './http2-stream';
import { type Guard, GuardedCall } from './guarded-call';
import {
  MAX_CALLS_AWAITING_REQUEST,
  MAX_CALLS_WITH_UNREAD_RESPONSES,
  MAX_METADATA_BYTES,
  MAX_WAITING_CALLS,
  RESPONSE_SEND_TIMEOUT_MS,
  type StreamPool,
  type TransportLimit,
  type TransportLimits,
} from './transport-limits';
import { UnreadResponses } from './unread-responses';

export interface CallGuardOptions {
  limits: TransportLimits;
  /** The capped pool a method's streams belong to, if any. */
  poolOf(path: string): StreamPool | undefined;
  /** The API's calls: admitted by key, and taking turns among maxRunningCalls. */
  admission: Admission;
  /** Called for every refusal or reset, with the limit that caused it. */
  limited(limit: TransportLimit): void;
}

const SWEEP_INTERVAL_MS = 1000;
const RETRY_AFTER_MS = 1000;

export class CallGuard implements Guard {
  /** Insertion-ordered: the first waiting for its request is the one that has waited longest. */
  private readonly open = new Set<GuardedCall>();
  private awaitingRequest = 0;
  private readonly pooled = new Map<StreamPool, number>();
  /** Calls with a response HTTP/2 has not taken yet, the one that has waited longest first. */
  private readonly unsentCalls = new Set<GuardedCall>();
  private readonly unread: UnreadResponses;
  private readonly turns: FairQueue<object>;
  private readonly sweeper: NodeJS.Timeout;

  constructor(private readonly options: CallGuardOptions) {
    const { limits } = options;
    this.unread = new UnreadResponses(limits.unreadResponseBytesPerConnection, limits.unreadResponseBytes);
    this.turns = new FairQueue(limits.maxRunningCalls, MAX_WAITING_CALLS);
    this.sweeper = setInterval(() => this.sweep(Date.now()), SWEEP_INTERVAL_MS).unref();
  }

  readonly interceptor: ServerInterceptor = (method, inner) =>
    new GuardedCall(this, method, inner, this.options.poolOf(method.path), this.options.admission.covers(method.path));

  stop(): void {
    clearInterval(this.sweeper);
  }

  /** At the call's metadata: the refusal, if the call may not go on. */
  admit(call: GuardedCall, metadata: Metadata): StatusObject | undefined {
    const size = metadataSize(metadata);
    if (size > MAX_METADATA_BYTES) {
      return toStatusError(this.refusal('metadata_size', `Request metadata of ${size} bytes is over the limit of ${MAX_METADATA_BYTES}.`));
    }
    if (call.takesTurns) {
      const refusal = this.options.admission.admit(call.method.path, metadata);
      if (refusal) return refusal;
      call.admitted = true;
    }
    if (call.pool) {
      const open = this.pooled.get(call.pool) ?? 0;
      if (open >= call.pool.max) {
        return toStatusError(this.refusal(call.pool.limit, `Too many ${call.pool.what} are open; retry later.`, RETRY_AFTER_MS));
      }
      this.pooled.set(call.pool, open + 1);
      call.pooled = true;
    }
    this.open.add(call);
    if (!call.method.requestStream) {
      call.awaitingRequest = true;
      if (++this.awaitingRequest > MAX_CALLS_AWAITING_REQUEST) this.refuseLongestAwaiting();
    }
    return undefined;
  }

  private refuseLongestAwaiting(): void {
    for (const oldest of this.open) {
      if (!oldest.awaitingRequest) continue;
      this.requestDone(oldest);
      oldest.end(this.refusal('calls_awaiting_request', 'Too many calls are waiting for their request; send it with the call.', RETRY_AFTER_MS));
      return;
    }
  }

  private requestDone(call: GuardedCall): void {
    if (!call.awaitingRequest) return;
    call.awaitingRequest = false;
    this.awaitingRequest--;
  }

  /** The whole request is in: the call goes on now, or at its turn to run. */
  requestArrived(call: GuardedCall): void {
    this.requestDone(call);
    if (!call.takesTurns) {
      call.proceed();
      return;
    }
    call.waiting = true;
    this.turns.enqueue(call.connection, call);
  }

  turnCame(call: GuardedCall): DomainError | undefined {
    return this.unreadRefusal(call);
  }

  dropped(call: GuardedCall): void {
    call.end(this.refusal('waiting_calls', 'Too many calls are waiting to be handled; retry later.', RETRY_AFTER_MS));
  }

  /** The handler answered (or the call was ended for it): its place goes to the next in turn. */
  answered(call: GuardedCall): void {
    if (!call.running) return;
    call.running = false;
    this.turns.done();
  }

  /** Before a response of `bytes` is queued: the refusal, if the client has left too much unread. */
  unreadRefusal(call: GuardedCall, bytes = 0): DomainError | undefined {
    const over = this.unread.overLimit(call.connection, bytes);
    if (!over) return undefined;
    return this.refusal(
      'unread_responses',
      over === 'connection'
        ? `This connection has ${this.unread.unreadOn(call.connection)} bytes of responses it has not read; read them before calling again.`
        : 'The server holds too many responses that clients have not read; retry later.',
      RETRY_AFTER_MS,
    );
  }

  queued(call: GuardedCall, bytes: number): void {
    if (call.unsent === 0) {
      call.unsentSince = Date.now();
      this.unsentCalls.add(call);
      if (this.unsentCalls.size > MAX_CALLS_WITH_UNREAD_RESPONSES) this.resetLongestUnsent();
    }
    call.unsent += bytes;
    this.unread.add(call.connection, bytes);
  }

  private resetLongestUnsent(): void {
    const oldest = this.unsentCalls.values().next().value!;
    this.unsentCalls.delete(oldest);
    this.options.limited('unread_responses');
    oldest.stream.close(http2.NGHTTP2_CANCEL);
  }

  /** HTTP/2 took `bytes` of the call's queued responses (or they went with the stream). */
  sent(call: GuardedCall, bytes: number): void {
    const released = Math.min(bytes, call.unsent);
    call.unsent -= released;
    call.unsentSince = Date.now();
    if (call.unsent === 0) this.unsentCalls.delete(call);
    this.unread.remove(call.connection, released);
  }

  /**
   * The call is over for grpc-js: its status is out, or its stream closed. (A handler still
   * running keeps its place until it answers: cancelling does not stop its database work.)
   */
  ended(call: GuardedCall): void {
    this.open.delete(call);
    this.requestDone(call);
    if (call.waiting) this.turns.remove(call.connection, call);
    if (call.admitted) this.options.admission.ended();
    if (call.pooled) {
      call.pooled = false;
      this.pooled.set(call.pool!, this.pooled.get(call.pool!)! - 1);
    }
    if (call.unsent > 0) this.sent(call, call.unsent);
    // Answered before the client finished sending: reset the stream once the answer is out
    // (Node defers a NO_ERROR reset until then), so that it does not stay open.
    if (!call.requestComplete && !call.stream.closed) call.stream.close(http2.NGHTTP2_NO_ERROR);
  }

  private sweep(now: number): void {
    for (const call of this.open) {
      if (call.unsent > 0 && now >= Math.min(call.deadline, call.unsentSince + RESPONSE_SEND_TIMEOUT_MS)) {
        this.options.limited('response_send_timeout');
        call.stream.close(http2.NGHTTP2_CANCEL);
      } else if (now >= call.deadline) {
        call.end(deadlineExceeded());
      }
    }
  }

  private refusal(limit: TransportLimit, message: string, retryDelayMs?: number): DomainError {
    this.options.limited(limit);
    return limitExceeded(limit, message, retryDelayMs);
  }
}
