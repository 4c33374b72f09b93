// One call as the call guard sees it: grpc-js's innermost call wrapped, with the guard's hooks at
// the call's metadata, its complete request, each response and its end (call-guard.ts). The call
// is its own listener and its own place in the running turns, so that guarding a call allocates
// one object, not a closure per step: this is on the path of every ValidateAuthToken.
import type { ServerHttp2Stream } from 'node:http2';
import {
  type Metadata,
  ServerInterceptingCall,
  type ServerInterceptingCallInterface,
  type ServerMethodDefinition,
  type StatusObject,
} from '@grpc/grpc-js';
import { DEFAULT_CALL_BUDGET_MS } from '../domain/deadline';
import type { DomainError } from '../domain/errors';
import { toStatusError } from './errors';
import type { Job } from './fair-queue';
import { http2StreamOf } from './http2-stream';
import type { StreamPool } from './transport-limits';

type Listener = Parameters<ServerInterceptingCall['start']>[0];
type Status = Parameters<ServerInterceptingCall['sendStatus']>[0];

/** What the call guard does at each step of a call (call-guard.ts). */
export interface Guard {
  /** The refusal, if the call may not go on. */
  admit(call: GuardedCall, metadata: Metadata): StatusObject | undefined;
  /** The whole request is in: the call goes on now (call.proceed()), or at its turn. */
  requestArrived(call: GuardedCall): void;
  /** Its turn came: the refusal, if it may still not run. */
  turnCame(call: GuardedCall): DomainError | undefined;
  answered(call: GuardedCall): void;
  unreadRefusal(call: GuardedCall, bytes: number): DomainError | undefined;
  queued(call: GuardedCall, bytes: number): void;
  sent(call: GuardedCall, bytes: number): void;
  /** Its place in the turns was needed for others. */
  dropped(call: GuardedCall): void;
  ended(call: GuardedCall): void;
}

export class GuardedCall extends ServerInterceptingCall implements Listener, Job {
  readonly stream: ServerHttp2Stream;
  /** The HTTP/2 session the call came on. */
  readonly connection: object;
  /** Epoch ms; Infinity for a streaming call without a client deadline. */
  readonly deadline: number;
  /** Whether the call holds a place in its pool. */
  pooled = false;
  /** Whether it was admitted with a key (Admission), and so counts as in flight. */
  admitted = false;
  requestComplete = false;
  /** Whether it is counted among the calls awaiting their request. */
  awaitingRequest = false;
  /** Whether it waits in the running turns. */
  waiting = false;
  /** Whether its handler holds one of the running places. */
  running = false;
  /** Response bytes handed to HTTP/2 and not yet taken by it. */
  unsent = 0;
  /** When the unsent bytes last made progress. */
  unsentSince = 0;
  private next!: Listener;
  private over = false;

  constructor(
    private readonly guard: Guard,
    readonly method: ServerMethodDefinition<unknown, unknown>,
    inner: ServerInterceptingCallInterface,
    readonly pool: StreamPool | undefined,
    /** An API call: it needs a key and takes turns to run. */
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
    this.next = listener;
    super.start(this);
  }

  onReceiveMetadata(metadata: Metadata): void {
    const refusal = this.guard.admit(this, metadata);
    if (refusal) this.sendStatus(refusal);
    else this.next.onReceiveMetadata(metadata);
  }

  onReceiveMessage(message: unknown): void {
    this.next.onReceiveMessage(message);
  }

  onReceiveHalfClose(): void {
    this.requestComplete = true;
    this.guard.requestArrived(this);
  }

  onCancel(): void {
    if (!this.over) {
      this.over = true;
      this.guard.ended(this);
    }
    this.next.onCancel();
  }

  /** Hands the complete request on: the handler runs. */
  proceed(): void {
    this.next.onReceiveHalfClose();
  }

  /** Job: its turn to run came. */
  run(): void {
    this.waiting = false;
    this.running = true;
    const refusal = this.guard.turnCame(this);
    if (refusal) this.end(refusal);
    else this.proceed();
  }

  /** Job: dropped from the turns. */
  drop(): void {
    this.waiting = false;
    this.guard.dropped(this);
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
