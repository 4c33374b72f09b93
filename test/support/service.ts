// Starts the real service in-process on 127.0.0.1:0 against the test mongod, with its own
// database, and gives typed clients for it.
import { randomUUID } from 'node:crypto';
import { credentials } from '@grpc/grpc-js';
import { ensureIndexes } from '../../src/storage/indexes';
import { MongoClient, type Db } from 'mongodb';
import { inject } from 'vitest';
import { loadConfig } from '../../src/config';
import { createLogger } from '../../src/observability/logger';
import { startApp } from '../../src/app';
import { AuthTokenServiceClient, AuthTokenServiceService } from '../../gen/authtoken/v1/auth_token_service';
import { UserServiceClient, UserServiceService } from '../../gen/authtoken/v1/user_service';
import { type PromisedClient, promised } from './promised-client';

export interface TestService {
  users: PromisedClient<typeof UserServiceService>;
  tokens: PromisedClient<typeof AuthTokenServiceService>;
  /** `host:port`, for clients of a test's own (e.g. event watches, event-watch.ts). */
  address: string;
  /** The service's database, for assertions on what is really stored. */
  db: Db;
  dbName: string;
  port: number;
  metricsPort: number;
  stop(): Promise<void>;
}

/**
 * `dbName`: another service's database, to run two replicas of the service side by side.
 * `untilReady`: resolve once the indexes exist (the default), or at once (a test of a service whose
 * database is down). The service creates them in the background once its database answers; they
 * would otherwise appear in the middle of a test (a snapshot of the database taken before them
 * differs from one taken after).
 */
export async function startTestService(
  env: Record<string, string> = {},
  { dbName = `test_${randomUUID().slice(0, 8)}`, untilReady: waitReady = true } = {},
): Promise<TestService> {
  const config = loadConfig({
    MONGODB_URI: inject('mongoUri'),
    MONGODB_DB: dbName,
    PORT: '0',
    METRICS_PORT: '0',
    LOG_LEVEL: 'silent',
    // Rate limits are tested on their own; elsewhere they would only make counts depend on timing.
    RATE_LIMIT_PER_KEY: '0',
    UID_CREATE_LIMIT_PER_MINUTE: '0',
    // So is the expiry sweep (test/e2e/expiry.test.ts): elsewhere its passes would only add
    // operations to profiles that tests read.
    EXPIRY_SWEEP_INTERVAL_MS: '3600000',
    ...env,
  });
  const service = await startApp(config, createLogger(config.LOG_LEVEL));
  const address = `127.0.0.1:${service.port}`;
  const userClient = new UserServiceClient(address, credentials.createInsecure());
  const tokenClient = new AuthTokenServiceClient(address, credentials.createInsecure());
  const mongo = await MongoClient.connect(inject('mongoUri'));
  // The same creation as the service's own, which may be under way: idempotent.
  if (waitReady) await ensureIndexes(mongo.db(dbName), config.ARCHIVE_RETENTION_DAYS);
  return {
    users: promised(UserServiceService, userClient),
    tokens: promised(AuthTokenServiceService, tokenClient),
    address,
    db: mongo.db(dbName),
    dbName,
    port: service.port,
    metricsPort: service.metricsPort,
    async stop() {
      userClient.close();
      tokenClient.close();
      await mongo.db(dbName).dropDatabase();
      await mongo.close();
      await service.stop();
    },
  };
}

