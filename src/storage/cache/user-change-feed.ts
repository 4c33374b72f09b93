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
  const stopping = new AbortController();
  let stream: ChangeStream<UserDoc> | undefined;
  let failing = false;
  /** Commit time of the last change delivered, and who waits for a later one. */
  let deliveredUpTo: Timestamp | undefined;
  const waiting = new Set<{ time: Timestamp; done: () => void }>();
  const release = (all: boolean) => {
    for (const waiter of waiting) {
      if (all || (deliveredUpTo && notAfter(waiter.time, deliveredUpTo))) {
        waiting.delete(waiter);
        waiter.done();
      }
    }
  };
  /** The feed stopped or may have missed changes: trust nothing cached, and wait for nothing. */
  const lose = () => {
    cache.lost();
    release(true);
  };

  const follow = async () => {
    while (!stopping.signal.aborted) {
      try {
        stream = users.watch(PIPELINE, { maxAwaitTimeMS: FEED_HEARTBEAT_MS });
        // Each tryNext runs at most one aggregate or getMore, which the server answers within
        // FEED_HEARTBEAT_MS even when nothing changed: every answer is a heartbeat.
        for (;;) {
          const change = await stream.tryNext();
          if (stopping.signal.aborted) return;
          cache.heard();
          if (failing) log.info('user change feed is back: validations are cached again');
          failing = false;
          if (!change) continue;
          if ('documentKey' in change) {
            cache.invalidate(change.documentKey._id);
            deliveredUpTo = change.clusterTime;
            release(false);
          } else {
            // drop, rename, dropDatabase or invalidate: the stream ends; start over.
            lose();
            break;
          }
        }
      } catch (error) {
        lose();
        if (stopping.signal.aborted) return;
        // Once per outage: a deployment without change streams (a standalone mongod) fails forever.
        if (!failing) log.warn({ err: error }, 'user change feed failed: validations read the database until it is back');
        failing = true;
      } finally {
        await stream?.close().catch(() => undefined);
      }
      await delay(REOPEN_AFTER_MS, undefined, { signal: stopping.signal }).catch(() => undefined);
    }
  };
  const following = follow();

  return {
    async delivered(time) {
      if (!cache.live || (deliveredUpTo && notAfter(time, deliveredUpTo))) return;
      await new Promise<void>((done) => {
        const waiter = { time, done: () => (clearTimeout(timer), done()) };
        const timer = setTimeout(() => (waiting.delete(waiter), done()), STALE_AFTER_MS);
        waiting.add(waiter);
      });
    },
    async stop() {
      stopping.abort();
      lose();
      await stream?.close().catch(() => undefined);
      await following;
    },
  };
}
