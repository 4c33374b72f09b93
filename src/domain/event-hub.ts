// One replica's fan-out of auth token events. It follows the event source once for all its watches
// (one change stream per replica, however many gateways watch), keeps the latest events for
// gateways that resume, and hands each event to every watch that wants it.
//
// A watch that resumes from a position the replay no longer covers reads the source from there on
// its own (the database keeps the events for its oplog window) until it reaches what the replay
// covers, then joins the others. Positions are ordered, so joining sends nothing twice and skips
// nothing.
import { setTimeout as delay } from 'node:timers/promises';
import {
  type AuthTokenEvent,
  type EventBatch,
  type EventPosition,
  type TokenEventSource,
  type WatchRequest,
  wanted,
} from './auth-token-events';
import { DomainError, ErrorReason } from './errors';

export interface EventSubscriber {
  /**
   * Takes the next event or bookmark, in order. Returns whether it has room for more; it bounds
   * its own backlog (a subscriber too slow for the live events ends its watch).
   */
  push(event: AuthTokenEvent): boolean;
  /** Resolves once it has room again. */
  ready(): Promise<void>;
}

export interface EventHubOptions {
  /** Events kept for watches that resume (positions after `coveredFrom`). */
  replayEvents: number;
  /** How often a watch that was sent nothing is told how far it is (its resume_token moves on). */
  bookmarkIntervalMs: number;
  /** After the source fails, how long until it is followed again. */
  reopenAfterMs: number;
  /** How long a new watch waits for the source to be followed (at start-up, after a failure). */
  liveWaitMs: number;
  onSourceError(error: unknown): void;
}

class Watch {
  /** How far it was sent (its resume_token): nothing at or before it is sent again. */
  sent: EventPosition | undefined;
  private fail!: (error: DomainError) => void;
  readonly ended: Promise<void>;

  constructor(
    readonly uids: ReadonlySet<string>,
    private readonly subscriber: EventSubscriber,
    signal: AbortSignal,
    private readonly leave: (watch: Watch) => void,
  ) {
    this.ended = new Promise<void>((done, fail) => {
      this.fail = fail;
      signal.addEventListener('abort', () => done(), { once: true });
    }).finally(() => this.leave(this));
  }

  deliver(event: AuthTokenEvent): void {
    // A watch may start ahead of this replica (resumed with a position from another replica).
    if (this.sent !== undefined && event.position <= this.sent && event.type !== 'BOOKMARK') return;
    if (!wanted(event, this.uids)) return;
    this.sent = event.position;
    this.subscriber.push(event);
  }

  end(error: DomainError): void {
    this.fail(error);
  }
}

export class EventHub {
  /** Every event after `coveredFrom`, oldest first (undefined: nothing covered yet). */
  private replay: AuthTokenEvent[] = [];
  private coveredFrom: EventPosition | undefined;
  /** How far the source has been read. */
  private head: EventPosition | undefined;
  private live = false;
  private readonly liveWaiters = new Set<() => void>();
  private readonly watches = new Set<Watch>();
  private readonly stopping = new AbortController();
  private following: Promise<void> = Promise.resolve();
  private bookmarks: NodeJS.Timeout | undefined;

  constructor(
    private readonly source: TokenEventSource,
    private readonly options: EventHubOptions,
  ) {}

  get watching(): number {
    return this.watches.size;
  }

  start(): void {
    this.following = this.follow();
    this.bookmarks = setInterval(() => this.sendBookmarks(), this.options.bookmarkIntervalMs).unref();
  }

  /** Ends every watch at once (UNAVAILABLE: they resume elsewhere); resolves once it stopped following. */
  async stop(): Promise<void> {
    clearInterval(this.bookmarks);
    this.live = false; // and so no watch starts
    this.endWatches(unavailable('This replica is shutting down; watch again with the last resume_token.'));
    this.stopping.abort();
    await this.following;
  }

  /**
   * Sends `subscriber` the events `request` asks for until `signal` aborts (resolves), or the
   * watch must end (rejects: unavailable, resumeTokenExpired, a bad resume token).
   */
  async watch(request: WatchRequest, subscriber: EventSubscriber, signal: AbortSignal): Promise<void> {
    await this.whenLive(signal);
    const left = aborted(signal); // one listener for every wait below
    let from = request.after;
    for (;;) {
      if (signal.aborted) return;
      if (!this.live) throw unavailable('The event stream was interrupted; watch again with the last resume_token.');
      if (from !== undefined && from < this.coveredFrom!) {
        from = await this.catchUp(from, request.uids, subscriber, signal, left);
        continue;
      }
      // What the replay holds after `from`, as fast as the subscriber takes it: the replay may
      // move on meanwhile, so where to go on is looked up again after each wait.
      if (from !== undefined) {
        let roomy = true;
        for (let i = this.firstAfter(from); roomy && i < this.replay.length; i++) {
          const event = this.replay[i]!;
          if (wanted(event, request.uids)) roomy = subscriber.push(event);
          from = event.position;
        }
        if (!roomy) {
          await Promise.race([subscriber.ready(), left]);
          continue;
        }
      }
      return this.join(request.uids, from, subscriber, signal);
    }
  }

  /** The watch has every event up to `from` (or starts now): from here on it gets them live. */
  private join(uids: ReadonlySet<string>, from: EventPosition | undefined, subscriber: EventSubscriber, signal: AbortSignal): Promise<void> {
    const watch = new Watch(uids, subscriber, signal, (w) => this.watches.delete(w));
    watch.sent = from;
    // Told where it is: at the head, or where it asked to start if that is further on.
    watch.deliver({ type: 'BOOKMARK', position: from !== undefined && from > this.head! ? from : this.head! });
    this.watches.add(watch);
    return watch.ended;
  }

  private async follow(): Promise<void> {
    const { signal } = this.stopping;
    while (!signal.aborted) {
      try {
        for await (const batch of this.source.follow(this.head, signal)) {
          if (signal.aborted) return;
          if (!this.live) this.becomeLive(batch.position);
          this.take(batch);
        }
      } catch (error) {
        if (signal.aborted) return;
        this.options.onSourceError(error);
        this.live = false;
        const expired = error instanceof DomainError && error.reason === ErrorReason.RESUME_TOKEN_EXPIRED;
        // Watches cannot be told what they missed meanwhile: they resume, here or elsewhere.
        this.endWatches(expired ? error : unavailable('The event stream was interrupted; watch again with the last resume_token.'));
        if (expired) this.forget();
      }
      await delay(this.options.reopenAfterMs, undefined, { signal }).catch(() => undefined);
    }
  }

  /** Followed again after a failure, the source goes on from `head`: what the replay covers still holds. */
  private becomeLive(position: EventPosition): void {
    this.live = true;
    this.coveredFrom ??= position;
    this.head ??= position;
    for (const done of this.liveWaiters) done();
    this.liveWaiters.clear();
  }

  private take(batch: EventBatch): void {
    for (const event of batch.events) {
      if (event.position <= this.head!) continue;
      this.head = event.position;
      this.replay.push(event);
      for (const watch of this.watches) watch.deliver(event);
    }
    if (batch.position > this.head!) this.head = batch.position;
    // Trimmed in steps, not one event at a time: each trim moves the whole array.
    const over = this.replay.length - this.options.replayEvents;
    if (over > this.options.replayEvents / 4) this.coveredFrom = this.replay.splice(0, over).at(-1)!.position;
  }

  /** Reads the source for one watch from `after` until the replay covers where it got. */
  private async catchUp(
    after: EventPosition,
    uids: ReadonlySet<string>,
    subscriber: EventSubscriber,
    signal: AbortSignal,
    left: Promise<void>,
  ): Promise<EventPosition> {
    let position = after;
    for await (const batch of this.source.follow(after, signal)) {
      for (const event of batch.events) {
        if (wanted(event, uids) && !subscriber.push(event)) await Promise.race([subscriber.ready(), left]);
        if (signal.aborted) return position;
      }
      if (batch.position > position) position = batch.position;
      if (this.live && position >= this.coveredFrom!) return position;
    }
    return position; // aborted
  }

  /** Index of the first replayed event after `position`. */
  private firstAfter(position: EventPosition): number {
    let low = 0;
    let high = this.replay.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if (this.replay[mid]!.position <= position) low = mid + 1;
      else high = mid;
    }
    return low;
  }

  /** Watches that were sent nothing for a while learn how far they are. */
  private sendBookmarks(): void {
    if (!this.live) return;
    const position = this.head!;
    for (const watch of this.watches) {
      if (watch.sent! < position) watch.deliver({ type: 'BOOKMARK', position });
    }
  }

  private async whenLive(signal: AbortSignal): Promise<void> {
    if (this.live) return;
    let done!: () => void;
    const became = new Promise<void>((resolve) => (done = resolve));
    this.liveWaiters.add(done);
    try {
      await Promise.race([became, delay(this.options.liveWaitMs, undefined, { signal }).catch(() => undefined)]);
    } finally {
      this.liveWaiters.delete(done);
    }
    if (!this.live && !signal.aborted) throw unavailable('Events cannot be followed now (the database is unreachable); retry later.');
  }

  private endWatches(error: DomainError): void {
    for (const watch of [...this.watches]) watch.end(error);
  }

  /** The source lost our place: nothing replayed can be trusted to join on. */
  private forget(): void {
    this.replay = [];
    this.coveredFrom = undefined;
    this.head = undefined;
  }
}

function aborted(signal: AbortSignal): Promise<void> {
  return signal.aborted ? Promise.resolve() : new Promise((done) => signal.addEventListener('abort', () => done(), { once: true }));
}

/** UNAVAILABLE, with a retry delay: the watch should be opened again (with its resume_token). */
function unavailable(message: string): DomainError {
  return new DomainError(ErrorReason.SERVICE_UNAVAILABLE, message, [], {}, 1_000);
}
