// Composition root: database (embedded or given), use cases, gRPC server, health, metrics, and
// the order in which they shut down.
import { resolve } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import type { Config } from './config';
import { AuthTokens } from './domain/auth-tokens';
import { Users } from './domain/users';
import { TokenBuckets } from './domain/token-bucket';
import { AccessControl } from './grpc/access';
import { type TransportLimit, transportLimits } from './grpc/transport-limits';
import { InFlightCalls } from './grpc/call-hooks';
import { LIVENESS_SERVICE, READINESS_SERVICES, startServer } from './grpc/server';
import type { Logger } from './logger';
import { Metrics, startMetricsServer } from './metrics';
import { type Security, loadSecurity } from './security';
import { openDatabase } from './storage/database';
import { watchDatabaseHealth } from './storage/database-health';
import { type EmbeddedMongod, ensureMongodBinary, startEmbeddedMongod } from './storage/embedded-mongod';

/** After the last unary call, how long its response may take to leave before streams are cut. */
const RESPONSE_FLUSH_MS = 1_000;
/** A transport limit being hit is logged at most this often per limit (it is counted in metrics). */
const LIMIT_WARNING_INTERVAL_MS = 60_000;

export interface RunningService {
  port: number;
  metricsPort: number;
  /**
   * Graceful stop: reports NOT_SERVING, refuses new calls, lets in-flight calls finish for up to
   * SHUTDOWN_GRACE_MS, then closes what is left (health Watch streams never end on their own),
   * the database client and the embedded mongod.
   */
  stop(): Promise<void>;
}

export async function startService(config: Config, log: Logger): Promise<RunningService> {
  // Before anything starts: a service that would be open to the network without keys must not.
  const security = loadSecurity(config, log);
  let embedded: EmbeddedMongod | undefined;
  let uri = config.MONGODB_URI;
  if (!uri) {
    const binary = await ensureMongodBinary(config.MONGOD_CACHE_DIR, log);
    const dataDir = resolve(config.EMBEDDED_MONGOD_DATA_DIR);
    embedded = await startEmbeddedMongod({ binary, dataDir });
    log.info({ dataDir, uri: embedded.uri }, 'embedded mongod started');
    uri = embedded.uri;
  }
  try {
    return await startOn(uri, config, log, security, embedded);
  } catch (error) {
    await embedded?.stop(); // a failed start leaves nothing running
    throw error;
  }
}

async function startOn(
  uri: string,
  config: Config,
  log: Logger,
  security: Security,
  embedded: EmbeddedMongod | undefined,
): Promise<RunningService> {
  const metrics = new Metrics();
  const database = openDatabase({
    uri,
    dbName: config.MONGODB_DB,
    archiveRetentionDays: config.ARCHIVE_RETENTION_DAYS,
    validationCacheEntries: config.VALIDATION_CACHE_ENTRIES,
    observeCacheLookup: (result) => metrics.cacheLookup(result),
    log,
  });
  const users = new Users(database.store, metrics);
  const perMinute = config.UID_CREATE_LIMIT_PER_MINUTE;
  const tokens = new AuthTokens(
    database.store,
    {
      maxTokensPerUser: config.MAX_TOKENS_PER_USER,
      createLimitPerUid: perMinute > 0 ? new TokenBuckets(perMinute / 60, perMinute) : undefined,
    },
    metrics,
  );
  const perKey = config.RATE_LIMIT_PER_KEY;
  const access = new AccessControl(security.keys, perKey > 0 ? new TokenBuckets(perKey, perKey) : undefined);
  const inFlight = new InFlightCalls();
  const metricsServer = await startMetricsServer(metrics, config.HOST, config.METRICS_PORT);
  const lastWarned = new Map<TransportLimit, number>();
  const limited = (limit: TransportLimit) => {
    metrics.limited(limit);
    const now = Date.now();
    if (now - (lastWarned.get(limit) ?? -Infinity) < LIMIT_WARNING_INTERVAL_MS) return;
    lastWarned.set(limit, now);
    log.warn({ limit }, 'transport limit reached (each time is counted in authtoken_transport_limited_total)');
  };
  const grpc = await startServer({
    host: config.HOST,
    port: config.PORT,
    users,
    tokens,
    hooks: { log, inFlight, access, observe: (path) => metrics.callStarted(path) },
    credentials: security.credentials,
    limits: transportLimits(config),
    limited,
  }).catch((error: unknown) => {
    metricsServer.server.close();
    throw error;
  });

  const { server, health, port } = grpc;
  const setReadiness = (status: 'SERVING' | 'NOT_SERVING') =>
    READINESS_SERVICES.forEach((name) => health.setStatus(name, status));
  const databaseHealth = watchDatabaseHealth(database.client, database.prepare, (ready) => {
    log.info({ ready }, ready ? 'database ready: serving' : 'database unreachable: not serving');
    setReadiness(ready ? 'SERVING' : 'NOT_SERVING');
  });
  log.info({ host: config.HOST, port, metricsPort: metricsServer.port, database: config.MONGODB_DB }, 'listening');

  return {
    port,
    metricsPort: metricsServer.port,
    async stop() {
      databaseHealth.stop();
      setReadiness('NOT_SERVING');
      health.setStatus(LIVENESS_SERVICE, 'NOT_SERVING');
      grpc.stopAccepting();
      const closed = new Promise<void>((done) => server.tryShutdown(() => done()));
      log.info({ graceMs: config.SHUTDOWN_GRACE_MS }, 'refusing new calls; in-flight calls may finish');
      // tryShutdown completes once every stream has ended, but health Watch streams never end by
      // themselves. So: once no unary call is left, give responses a moment to flush, then cut
      // what remains; and never wait beyond the grace period.
      const timers = new AbortController();
      const unaryCallsDone = inFlight.idle().then(() => delay(RESPONSE_FLUSH_MS, undefined, timers));
      const graceOver = delay(config.SHUTDOWN_GRACE_MS, undefined, timers);
      await Promise.race([closed, unaryCallsDone, graceOver]).catch(() => undefined);
      timers.abort();
      server.forceShutdown();
      await closed;
      grpc.close();
      await new Promise<void>((done) => metricsServer.server.close(() => done()));
      await database.close();
      await embedded?.stop();
    },
  };
}
