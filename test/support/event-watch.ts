// A WatchAuthTokenEvents stream as a test reads it: every message kept with when it arrived, and
// promises for the next one that matches (woken by the stream itself, never by a timer).
import { type ClientReadableStream, credentials, Metadata, type ServiceError } from '@grpc/grpc-js';
import {
  type AuthTokenEvent,
  AuthTokenEventType,
  AuthTokenServiceClient,
  type WatchAuthTokenEventsRequest,
} from '../../gen/authtoken/v1/auth_token_service';

export interface Arrived {
  event: AuthTokenEvent;
  /** performance.now() when it arrived. */
  at: number;
}

export class EventWatch {
  readonly arrived: Arrived[] = [];
  /** The status it ended with (undefined while open). */
  ended: ServiceError | undefined;
  private readonly waiters = new Set<() => void>();
  private readonly client: AuthTokenServiceClient;
  readonly call: ClientReadableStream<AuthTokenEvent>;

  constructor(address: string, request: Partial<WatchAuthTokenEventsRequest> = {}, metadata = new Metadata()) {
    this.client = new AuthTokenServiceClient(address, credentials.createInsecure());
    this.call = this.client.watchAuthTokenEvents({ uids: [], resumeToken: '', ...request }, metadata);
    this.call.on('data', (event: AuthTokenEvent) => {
      this.arrived.push({ event, at: performance.now() });
      this.wake();
    });
    this.call.on('error', (error: ServiceError) => {
      this.ended = error;
      this.wake();
    });
  }

  /** Events other than bookmarks, in order. */
  get changes(): AuthTokenEvent[] {
    return this.arrived.map((a) => a.event).filter((e) => e.type !== AuthTokenEventType.AUTH_TOKEN_EVENT_TYPE_BOOKMARK);
  }

  /** The first message that matches, from index `from` on; fails if the stream ends first or after `timeoutMs`. */
  async next(match: (event: AuthTokenEvent) => boolean, { from = 0, timeoutMs = 10_000 } = {}): Promise<Arrived> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const found = this.arrived.slice(from).find((a) => match(a.event));
      if (found) return found;
      if (this.ended) throw new Error(`the watch ended (${this.ended.code} ${this.ended.details}) before a matching event`);
      if (performance.now() > deadline) throw new Error(`no matching event within ${timeoutMs} ms`);
      await this.changed(deadline - performance.now());
    }
  }

  /** The stream is live: its first message, a BOOKMARK, arrived. */
  live(): Promise<Arrived> {
    return this.next(() => true);
  }

  /** The status the stream ends with. */
  async end(timeoutMs = 10_000): Promise<ServiceError> {
    const deadline = performance.now() + timeoutMs;
    while (!this.ended) {
      if (performance.now() > deadline) throw new Error(`the watch did not end within ${timeoutMs} ms`);
      await this.changed(deadline - performance.now());
    }
    return this.ended;
  }

  close(): void {
    this.call.cancel();
    this.client.close();
  }

  private changed(timeoutMs: number): Promise<void> {
    return new Promise<void>((done) => {
      const wake = () => {
        clearTimeout(timer);
        this.waiters.delete(wake);
        done();
      };
      const timer = setTimeout(wake, Math.max(0, timeoutMs));
      this.waiters.add(wake);
    });
  }

  private wake(): void {
    for (const wake of [...this.waiters]) wake();
  }
}

export const ISSUED = AuthTokenEventType.AUTH_TOKEN_EVENT_TYPE_ISSUED;
export const REVOKED = AuthTokenEventType.AUTH_TOKEN_EVENT_TYPE_REVOKED;
export const BOOKMARK = AuthTokenEventType.AUTH_TOKEN_EVENT_TYPE_BOOKMARK;

/** Opens a watch and resolves with its first message (it is live), or rejects with the status it ended with. */
export async function firstEvent(address: string, request: Partial<WatchAuthTokenEventsRequest>, metadata?: Metadata): Promise<AuthTokenEvent> {
  const watch = new EventWatch(address, request, metadata);
  try {
    return (await watch.live()).event;
  } catch {
    throw watch.ended ?? new Error('the watch neither answered nor ended');
  } finally {
    watch.close();
  }
}

/** The watches a test file opens, all closed at its end (closeAll in afterAll). */
export class OpenWatches {
  private readonly opened: EventWatch[] = [];

  open(svc: { address: string }, request: Partial<WatchAuthTokenEventsRequest> = {}): EventWatch {
    const watch = new EventWatch(svc.address, request);
    this.opened.push(watch);
    return watch;
  }

  closeAll(): void {
    this.opened.splice(0).forEach((w) => w.close());
  }
}
