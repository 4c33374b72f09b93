// The MongoDB client and the TokenStore on it. Nothing here waits for the database: calls made
// while it is unreachable fail with UNAVAILABLE, and `prepare` (indexes) is retried by the health
// watch until it succeeds, so the service starts, and reports not-ready, during an outage.
import { MongoClient } from 'mongodb';
import type { TokenStore } from '../domain/token-store';
import { translatingDriverErrors } from './driver-errors';
import { ensureIndexes } from './indexes';
import { MongoTokenStore } from './mongo-token-store';

export interface Database {
  store: TokenStore;
  client: MongoClient;
  /** Creates or updates the indexes; safe to call again. */
  prepare(): Promise<void>;
  close(): Promise<void>;
}

export function openDatabase(options: { uri: string; dbName: string; archiveRetentionDays: number }): Database {
  const client = new MongoClient(options.uri, {
    // Token hashes come back as Buffers rather than BSON Binary.
    promoteBuffers: true,
    // Acknowledged means durable on a majority: an acknowledged token survives a failover.
    writeConcern: { w: 'majority' },
    retryWrites: true,
    // Fail fast into UNAVAILABLE instead of hanging for the driver's 30 s default.
    serverSelectionTimeoutMS: 5_000,
  });
  const db = client.db(options.dbName);
  return {
    store: translatingDriverErrors(new MongoTokenStore(client, db)),
    client,
    prepare: () => ensureIndexes(db, options.archiveRetentionDays),
    close: () => client.close(),
  };
}
