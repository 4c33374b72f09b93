// Connects to MongoDB and builds the TokenStore on it.
import { MongoClient } from 'mongodb';
import type { TokenStore } from '../domain/token-store';
import { translatingDriverErrors } from './driver-errors';
import { ensureIndexes } from './indexes';
import { MongoTokenStore } from './mongo-token-store';

export interface Database {
  store: TokenStore;
  client: MongoClient;
  close(): Promise<void>;
}

export async function openDatabase(options: {
  uri: string;
  dbName: string;
  archiveRetentionDays: number;
}): Promise<Database> {
  const client = new MongoClient(options.uri, {
    // Token hashes come back as Buffers rather than BSON Binary.
    promoteBuffers: true,
    // Acknowledged means durable on a majority: an acknowledged token survives a failover.
    writeConcern: { w: 'majority' },
    retryWrites: true,
    // Fail fast into UNAVAILABLE instead of hanging for the driver's 30 s default.
    serverSelectionTimeoutMS: 5_000,
  });
  await client.connect();
  const db = client.db(options.dbName);
  await ensureIndexes(db, options.archiveRetentionDays);
  return {
    store: translatingDriverErrors(new MongoTokenStore(client, db)),
    client,
    close: () => client.close(),
  };
}
