// The MongoDB client and the TokenStore on it. Nothing here waits for the database: calls made
// while it is unreachable fail with UNAVAILABLE, and `prepare` (indexes) is retried by the health
// watch until it succeeds, so the service starts, and reports not-ready, during an outage.
import { MongoClient } from 'mongodb';
import type { TokenStore } from '../domain/token-store';
import type { Logger } from '../observability/logger';
import { cachingValidations } from './cache/caching-token-store';
import { USERS, type UserDoc } from './documents';
import { plainTokenStore } from './committed-writes';
import { translatingDriverErrors } from './driver-errors';
import { ensureIndexes } from './indexes';
import { MongoTokenStore } from './mongo-token-store';
import { followUserChanges } from './cache/user-change-feed';
import type { CacheLookupResult } from '../domain/token-activity';
import { ValidationCache } from './cache/validation-cache';
import type { TokenEventSource } from '../domain/auth-token-events';
import { mongoTokenEventSource } from './token-event-stream';
import { sweepPendingArchive } from './pending-archive';

/** How long an operation waits for a reachable server before it fails (UNAVAILABLE). */
export const SERVER_SELECTION_TIMEOUT_MS = 5_000;
/**
 * How often a replica looks for tokens left pending by a write that did not finish (a replica that
 * died between its update and the archive copy), and how old they must be: a live replica copies
 * its own within milliseconds.
 */
const PENDING_SWEEP_INTERVAL_MS = 1_000;
const PENDING_GRACE_MS = 1_000;

export interface Database {
  store: TokenStore;
  /** Every token issued and revoked, through any replica (WatchAuthTokenEvents). */
  events: TokenEventSource;
  client: MongoClient;
  /** Creates or updates the indexes, then starts the recovery sweep; safe to call again. */
  prepare(): Promise<void>;
  close(): Promise<void>;
}

export interface DatabaseOptions {
  uri: string;
  dbName: string;
  archiveRetentionDays: number;
  /** The idle timeout (domain/expiry.ts); undefined: off. */
  idleTimeoutMs?: number;
  /** 0 turns the validation cache (and its change stream) off. */
  validationCacheEntries: number;
  observeCacheLookup?: (result: CacheLookupResult) => void;
  log: Logger;
}

export function openDatabase(options: DatabaseOptions): Database {
  const client = new MongoClient(options.uri, {
    // Token hashes come back as Buffers rather than BSON Binary.
    promoteBuffers: true,
    // Acknowledged means durable on a majority: an acknowledged token survives a failover.
    writeConcern: { w: 'majority' },
    retryWrites: true,
    // Fail fast into UNAVAILABLE instead of hanging for the driver's 30 s default.
    serverSelectionTimeoutMS: SERVER_SELECTION_TIMEOUT_MS,
  });
  const db = client.db(options.dbName);
  const events = mongoTokenEventSource(db);
  const mongoStore = new MongoTokenStore(client, db, options.idleTimeoutMs);
  let sweep: { stop(): Promise<void> } | undefined;
  let closed = false;
  const prepare = async () => {
    await ensureIndexes(db, options.archiveRetentionDays);
    // The sweep walks its own indexes: started before they exist (a first start on a populated
    // database, or an upgrade that adds one), its passes would fail until they were built.
    if (!closed) sweep ??= sweepPendingArchive(mongoStore.pending, PENDING_SWEEP_INTERVAL_MS, PENDING_GRACE_MS, options.log);
  };
  const stopSweep = async () => {
    closed = true;
    await sweep?.stop();
  };
  const store = translatingDriverErrors(mongoStore);
  if (options.validationCacheEntries === 0) {
    return {
      store: plainTokenStore(store),
      events,
      client,
      prepare,
      async close() {
        await stopSweep();
        await client.close();
      },
    };
  }
  const cache = new ValidationCache(options.validationCacheEntries);
  const feed = followUserChanges(db.collection<UserDoc>(USERS), cache, options.log);
  return {
    store: cachingValidations(store, cache, feed, options.observeCacheLookup),
    events,
    client,
    prepare,
    async close() {
      await Promise.all([feed.stop(), stopSweep()]);
      await client.close();
    },
  };
}
