// Composition root: database (embedded or given), use cases and gRPC server, and their shutdown.
import { resolve } from 'node:path';
import type { Config } from './config';
import { AuthTokens } from './domain/auth-tokens';
import { Users } from './domain/users';
import { startServer } from './grpc/server';
import type { Logger } from './logger';
import { openDatabase } from './storage/database';
import { type EmbeddedMongod, ensureMongodBinary, startEmbeddedMongod } from './storage/embedded-mongod';

export interface RunningService {
  port: number;
  /** Stops taking calls, lets in-flight ones finish within the grace period, then closes the database. */
  stop(): Promise<void>;
}

export async function startService(config: Config, log: Logger): Promise<RunningService> {
  let embedded: EmbeddedMongod | undefined;
  let uri = config.MONGODB_URI;
  if (!uri) {
    const binary = await ensureMongodBinary(config.MONGOD_CACHE_DIR, log);
    const dataDir = resolve(config.EMBEDDED_MONGOD_DATA_DIR);
    embedded = await startEmbeddedMongod({ binary, dataDir });
    uri = embedded.uri;
    log.info({ dataDir, uri }, 'embedded mongod started');
  }

  const database = await openDatabase({
    uri,
    dbName: config.MONGODB_DB,
    archiveRetentionDays: config.ARCHIVE_RETENTION_DAYS,
  });
  const users = new Users(database.store);
  const tokens = new AuthTokens(database.store, { maxTokensPerUser: config.MAX_TOKENS_PER_USER });
  const { server, port } = await startServer({ host: config.HOST, port: config.PORT, users, tokens, log });
  log.info({ host: config.HOST, port, database: config.MONGODB_DB }, 'listening');

  return {
    port,
    async stop() {
      await new Promise<void>((done) => {
        const force = setTimeout(() => server.forceShutdown(), config.SHUTDOWN_GRACE_MS);
        server.tryShutdown(() => {
          clearTimeout(force);
          done();
        });
      });
      await database.close();
      await embedded?.stop();
    },
  };
}
