// One call as the call guard sees it: grpc-js's innermost call wrapped, with the guard's hooks at
// the call's metadata, its complete request, each response and its end (call-guard.ts).
import type { ServerHttp2Stream } from 'node:http2';
import {
  type Metadata,
  ServerInterceptingCall,
  type ServerInterceptingCallInterface,
  type ServerMethodDefinition,
} from '@grpc/grpc-js';
import { DEFAULT_CALL_BUDGET_MS } from '../call-deadline';
import type { DomainError } from '../domain/errors';
import { toStatusError } from './errors';
import type { Job } from './fair-queue';
import { http2StreamOf } from './http2-stream';
import type { StreamPool } from './transport-limits';

type Listener = Parameters<ServerInterceptingCall['start']>[0];
type Status = Parameters<ServerInterceptingCall['sendStatus']>[0];

/** What the call guard does at each step of a call (call-guard.ts). */
export interface Guard {
  admit(call: GuardedCall, metadata: Metadata): DomainError | undefined;
  requestArrived(call: GuardedCall, start: () => void): void;
  answered(call: GuardedCall): void;
  unreadRefusal(call: GuardedCall, bytes: number): DomainError | undefined;
  queued(call: GuardedCall, bytes: number): void;
  sent(call: GuardedCall, bytes: number): void;
  ended(call: GuardedCall): void;
}

export class GuardedCall extends ServerInterceptingCall {
  readonly stream: ServerHttp2Stream;
  /** The HTTP/2 session the call came on. */
  readonly connection: object;
  /** Epoch ms; Infinity for a streaming call without a client deadline. */
  readonly deadline: number;
  /** Whether the call holds a place in its pool. */
  pooled = false;
  requestComplete = false;
  /** Its place in the turns of running calls, once its request is in. */
  turn: Job | undefined;
  /** Whether its handler holds one of the running places. */
  running = false;
  /** Response bytes handed to HTTP/2 and not yet taken by it. */
  unsent = 0;
  /** When the unsent bytes last made progress. */
  unsentSince = 0;
  private over = false;

  constructor(
    private readonly guard: Guard,
    readonly method: ServerMethodDefinition<unknown, unknown>,
    inner: ServerInterceptingCallInterface,
    readonly pool: StreamPool | undefined,
    readonly takesTurns: boolean,
  ) {
    super(inner);
    this.stream = http2StreamOf(inner);
    this.connection = this.stream.session ?? this.stream;
    const clientDeadline = Number(inner.getDeadline());
    const streaming = method.requestStream || method.responseStream;
    this.deadline = streaming ? clientDeadline : Math.min(clientDeadline, Date.now() + DEFAULT_CALL_BUDGET_MS);
  }

  override start(listener: Listener): void {
    super.start({
      onReceiveMetadata: (metadata) => {
        const refusal = this.guard.admit(this, metadata);
        if (refusal) this.end(refusal);
        else listener.onReceiveMetadata(metadata);
      },
      onReceiveMessage: (message) => listener.onReceiveMessage(message),
      onReceiveHalfClose: () => {
        this.requestComplete = true;
        this.guard.requestArrived(this, () => listener.onReceiveHalfClose());
      },
      onCancel: () => {
        if (!this.over) {
          this.over = true;
          this.guard.ended(this);
        }
        listener.onCancel();
      },
    });
  }

  /**
   * Encodes the response here (the server passes encoded responses through, server.ts), so that
   * its size is known before it is queued. The unread bound was checked before the handler ran
   * for calls that take turns, so that what their handler answers is what the client gets.
   */
  override sendMessage(message: unknown, callback: () => void): void {
    this.guard.answered(this);
    const bytes = Buffer.isBuffer(message) ? message : (this.method.responseSerialize(message) as Buffer);
    const refusal = this.takesTurns ? undefined : this.guard.unreadRefusal(this, bytes.length);
    if (refusal) {
      this.end(refusal);
      return;
    }
    this.guard.queued(this, bytes.length);
    super.sendMessage(bytes, () => {
      this.guard.sent(this, bytes.length);
      callback();
    });
  }

  override sendStatus(status: Status): void {
    this.guard.answered(this);
    super.sendStatus(status);
  }

  /** Ends the call with `error`'s status, whatever its handler is doing. */
  end(error: DomainError): void {
    this.sendStatus(toStatusError(error));
  }
}
