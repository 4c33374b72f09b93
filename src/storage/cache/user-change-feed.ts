// Follows every change to the `users` collection with a change stream and tells the validation
// cache which users changed, and that it is still listening (see validation-cache.ts).
import { setTimeout as delay } from 'node:timers/promises';
import type { ChangeStream, Collection, Timestamp } from 'mongodb';
import type { Logger } from '../../observability/logger';
import type { UserDoc } from '../documents';
import { FEED_HEARTBEAT_MS, STALE_AFTER_MS, type ValidationCache } from './validation-cache';

/** After a failure, the feed is opened again after this long (the cache is bypassed meanwhile). */
const REOPEN_AFTER_MS = 1_000;

/** Only which document changed, never its contents: events stay small. */
const PIPELINE = [{ $project: { operationType: 1, documentKey: 1, clusterTime: 1 } }];

export interface UserChangeFeed {
  /**
   * Resolves once the feed has delivered the change committed at `time` (and so has every other
   * replica's, give or take scheduling), at once if the feed is not live, or after STALE_AFTER_MS.
   */
  delivered(time: Timestamp): Promise<void>;
  stop(): Promise<void>;
}

const notAfter = (a: Timestamp, b: Timestamp) => a.t < b.t || (a.t === b.t && a.i <= b.i);

export function followUserChanges(users: Collection<UserDoc>, cache: ValidationCache, log: Logger): UserChangeFeed {
  return new FollowedUserChanges(users, cache, log);
}

class FollowedUserChanges implements UserChangeFeed {
  private readonly stopping = new AbortController();
  private stream: ChangeStream<UserDoc> | undefined;
  private failing = false;
  /** Commit time of the last change delivered, and who waits for a later one. */
  private deliveredUpTo: Timestamp | undefined;
  private readonly waiting = new Set<{ time: Timestamp; done: () => void }>();
  private readonly following: Promise<void>;

  constructor(
    private readonly users: Collection<UserDoc>,
    private readonly cache: ValidationCache,
    private readonly log: Logger,
  ) {
    this.following = this.follow();
  }

  async delivered(time: Timestamp): Promise<void> {
    if (!this.cache.live || (this.deliveredUpTo && notAfter(time, this.deliveredUpTo))) return;
    await new Promise<void>((done) => {
      const waiter = { time, done: () => (clearTimeout(timer), done()) };
      const timer = setTimeout(() => (this.waiting.delete(waiter), done()), STALE_AFTER_MS);
      this.waiting.add(waiter);
    });
  }

  async stop(): Promise<void> {
    this.stopping.abort();
    this.lose();
    await this.stream?.close().catch(() => undefined);
    await this.following;
  }

  private async follow(): Promise<void> {
    while (!this.stopping.signal.aborted) {
      try {
        this.stream = this.users.watch(PIPELINE, { maxAwaitTimeMS: FEED_HEARTBEAT_MS });
        await this.deliverChanges(this.stream);
        if (this.stopping.signal.aborted) return;
      } catch (error) {
        this.lose();
        if (this.stopping.signal.aborted) return;
        // Once per outage: a deployment without change streams (a standalone mongod) fails forever.
        if (!this.failing) this.log.warn({ err: error }, 'user change feed failed: validations read the database until it is back');
        this.failing = true;
      } finally {
        await this.stream?.close().catch(() => undefined);
      }
      await delay(REOPEN_AFTER_MS, undefined, { signal: this.stopping.signal }).catch(() => undefined);
    }
  }

  /** Reads the stream until it ends (a drop or rename) or the feed stops. */
  private async deliverChanges(stream: ChangeStream<UserDoc>): Promise<void> {
    // Each tryNext runs at most one aggregate or getMore, which the server answers within
    // FEED_HEARTBEAT_MS even when nothing changed: every answer is a heartbeat.
    for (;;) {
      const change = await stream.tryNext();
      if (this.stopping.signal.aborted) return;
      this.cache.heard();
      if (this.failing) this.log.info('user change feed is back: validations are cached again');
      this.failing = false;
      if (!change) continue;
      if (!('documentKey' in change)) {
        // drop, rename, dropDatabase or invalidate: the stream ends; start over.
        this.lose();
        return;
      }
      this.cache.invalidate(change.documentKey._id);
      this.deliveredUpTo = change.clusterTime;
      this.release(false);
    }
  }

  private release(all: boolean): void {
    for (const waiter of this.waiting) {
      if (all || (this.deliveredUpTo && notAfter(waiter.time, this.deliveredUpTo))) {
        this.waiting.delete(waiter);
        waiter.done();
      }
    }
  }

  /** The feed stopped or may have missed changes: trust nothing cached, and wait for nothing. */
  private lose(): void {
    this.cache.lost();
    this.release(true);
  }
}
