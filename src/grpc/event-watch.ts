// WatchAuthTokenEvents: one server stream per gateway, fed by the replica's event hub
// (domain/event-hub.ts). What a watch can make this process hold is bounded: the streams are a
// capped pool (call guard), and each holds at most `backlog` events its client has not taken;
// beyond that its stream is reset with ENHANCE_YOUR_CALM, which clients report as
// RESOURCE_EXHAUSTED. (A status in trailers could not leave: it queues behind the unread data.)
import { constants as http2 } from 'node:http2';
import { type ServerInterceptingCallInterface, type ServerWritableStream, status } from '@grpc/grpc-js';
import { type AuthTokenEvent, watchRequest } from '../domain/auth-token-events';
import type { EventHub, EventSubscriber } from '../domain/event-hub';
import { AuthTokenEvent as AuthTokenEventMessage, AuthTokenServiceService, type WatchAuthTokenEventsRequest } from '../../gen/authtoken/v1/auth_token_service';
import type { CallHooks } from './call-hooks';
import { undecodable } from './decoding';
import { toStatusError } from './errors';
import { http2StreamOf } from './http2-stream';
import { authTokenEventMessage } from './messages';
import { badRequest } from '../domain/errors';
import { callContext } from './unary';

type WatchCall = ServerWritableStream<WatchAuthTokenEventsRequest, AuthTokenEventMessage | Buffer>;

const PATH = AuthTokenServiceService.watchAuthTokenEvents.path;

export interface EventWatches {
  hub: EventHub;
  /** Events a watch may hold that its client has not taken. */
  backlog: number;
  /** Called for each watch reset for holding more. */
  overflowed(): void;
}

export function watchAuthTokenEvents(hub: EventHub, hooks: CallHooks, options: Omit<EventWatches, 'hub'>) {
  return (call: WatchCall): void => {
    const context = callContext(call, PATH, hooks);
    const left = new AbortController();
    call.on('cancelled', () => left.abort());
    const writer = new EventWriter(call, options.backlog, () => {
      options.overflowed();
      context.recording(status.RESOURCE_EXHAUSTED, context);
      left.abort();
      // Resets the stream at once (with what it holds): no status can reach a client that does not read.
      http2StreamOf((call as unknown as { call: ServerInterceptingCallInterface }).call).close(http2.NGHTTP2_ENHANCE_YOUR_CALM);
    });
    const watching = async () => {
      const violations = undecodable(call.request);
      if (violations) throw badRequest(violations);
      await hub.watch(watchRequest(call.request), writer, left.signal);
    };
    watching().then(
      () => {
        if (!writer.overflowed) context.recording(status.CANCELLED, context);
      },
      (error: unknown) => {
        const statusError = toStatusError(error);
        context.recording(statusError.code, context, error);
        call.emit('error', statusError);
      },
    );
  };
}

/**
 * Each event encoded once, however many watches send it (the hub hands them all the same object):
 * the server passes encoded messages through as they are (encoded-responses.ts).
 */
const encodedEvents = new WeakMap<AuthTokenEvent, Buffer>();

function encoded(event: AuthTokenEvent): Buffer {
  let bytes = encodedEvents.get(event);
  if (!bytes) {
    bytes = Buffer.from(AuthTokenEventMessage.encode(authTokenEventMessage(event)).finish());
    encodedEvents.set(event, bytes);
  }
  return bytes;
}

/** Writes events as the stream takes them, keeping at most `backlog` waiting beyond that. */
class EventWriter implements EventSubscriber {
  private readonly waiting: AuthTokenEvent[] = [];
  private draining = false;
  private readonly roomWaiters: (() => void)[] = [];
  overflowed = false;

  constructor(
    private readonly call: WatchCall,
    private readonly backlog: number,
    private readonly overflow: () => void,
  ) {
    call.on('drain', () => this.drained());
  }

  push(event: AuthTokenEvent): boolean {
    // Ended (reset, or its status on the way): a write now would only be an error.
    if (this.overflowed || this.call.writableEnded || this.call.destroyed) return false;
    if (this.draining) {
      this.waiting.push(event);
      if (this.waiting.length > this.backlog) {
        this.overflowed = true;
        this.waiting.length = 0;
        this.overflow();
      }
      return this.waiting.length < this.backlog / 2;
    }
    this.draining = !this.call.write(encoded(event));
    return !this.draining;
  }

  ready(): Promise<void> {
    if (!this.draining && this.waiting.length === 0) return Promise.resolve();
    return new Promise((done) => this.roomWaiters.push(done));
  }

  private drained(): void {
    this.draining = false;
    while (!this.draining && this.waiting.length > 0) {
      this.draining = !this.call.write(encoded(this.waiting.shift()!));
    }
    if (!this.draining) this.roomWaiters.splice(0).forEach((wake) => wake());
  }
}
