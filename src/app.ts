// Composition root: database (embedded or given), use cases, gRPC server, health, metrics, and
// the order in which they shut down.
import { resolve } from 'node:path';
import type { Config } from './config';
import { AuthTokens } from './domain/auth-tokens';
import { ApiKeys } from './domain/api-keys';
import { TokenBuckets } from './domain/token-bucket';
import type { TokenStore } from './domain/token-store';
import { Users } from './domain/users';
import { ExpirySweep } from './domain/expiry-sweep';
import { EventHub } from './domain/event-hub';
import { type EmbeddedMongod, startEmbeddedMongod } from './embedded-mongod/mongod-process';
import { stopLeftoverMongod } from './embedded-mongod/leftover-mongod';
import { ensureMongodBinary } from './embedded-mongod/mongod-binary';
import { AccessControl } from './grpc/access';
import { InFlightCalls } from './grpc/call-hooks';
import { serverCredentials } from './grpc/credentials';
import { drain } from './grpc/drain';
import { LIVENESS_SERVICE, READINESS_SERVICES, startServer } from './grpc/server';
import { type TransportLimit, transportLimits } from './grpc/transport-limits';
import { reportLimits } from './observability/limit-warnings';
import type { Logger } from './observability/logger';
import { Metrics, startMetricsServer } from './observability/metrics';
import { openDatabase } from './storage/database';
import { watchDatabaseHealth } from './storage/database-health';

/** How often a watch that was sent nothing learns how far it is (a BOOKMARK): its resume_token stays recent. */
const EVENT_BOOKMARK_INTERVAL_MS = 10_000;

export interface RunningApp {
  port: number;
  metricsPort: number;
  /**
   * Graceful stop: reports NOT_SERVING, refuses new calls, lets in-flight calls finish for up to
   * SHUTDOWN_GRACE_MS, then closes what is left (health Watch streams never end on their own),
   * the database client and the embedded mongod.
   */
  stop(): Promise<void>;
}

export async function startApp(config: Config, log: Logger): Promise<RunningApp> {
  if (config.apiKeys.length === 0) {
    log.warn({ host: config.HOST }, 'no API keys configured: every local caller has full access');
  }
  let embedded: EmbeddedMongod | undefined;
  let uri = config.MONGODB_URI;
  if (!uri) {
    const binary = await ensureMongodBinary(config.MONGOD_CACHE_DIR, log);
    const dataDir = resolve(config.EMBEDDED_MONGOD_DATA_DIR);
    const leftover = await stopLeftoverMongod(dataDir);
    if (leftover) log.warn({ dataDir, pid: leftover }, 'stopped a mongod left running on the data folder by an earlier process');
    embedded = await startEmbeddedMongod({ binary, dataDir });
    log.info({ dataDir, uri: embedded.uri }, 'embedded mongod started');
    uri = embedded.uri;
  }
  try {
    return await startOn(uri, config, log, embedded);
  } catch (error) {
    await embedded?.stop(); // a failed start leaves nothing running
    throw error;
  }
}

async function startOn(uri: string, config: Config, log: Logger, embedded: EmbeddedMongod | undefined): Promise<RunningApp> {
  const metrics = new Metrics();
  const database = openDatabase({
    uri,
    dbName: config.MONGODB_DB,
    archiveRetentionDays: config.ARCHIVE_RETENTION_DAYS,
    idleTimeoutMs: idleTimeoutMs(config),
    validationCacheEntries: config.VALIDATION_CACHE_ENTRIES,
    observeCacheLookup: (result) => metrics.cacheLookup(result),
    log,
  });
  const { users, tokens } = useCases(config, database.store, metrics);
  const expirySweep = new ExpirySweep(database.store, metrics);
  expirySweep.start(config.EXPIRY_SWEEP_INTERVAL_MS, (error) => log.warn({ err: error }, 'expiry sweep failed; the next one tries again'));
  const events = new EventHub(database.events, {
    replayEvents: config.EVENT_REPLAY_EVENTS,
    bookmarkIntervalMs: EVENT_BOOKMARK_INTERVAL_MS,
    reopenAfterMs: 1_000,
    liveWaitMs: 5_000,
    onSourceError: (error) => log.warn({ err: error }, 'auth token events: the change stream failed; watches were ended and it is reopened'),
  });
  events.start();
  const inFlight = new InFlightCalls();
  const metricsServer = await startMetricsServer(metrics, config.HOST, config.METRICS_PORT);
  const grpc = await startServer({
    host: config.HOST,
    port: config.PORT,
    users,
    tokens,
    events,
    hooks: { log, inFlight, access: accessControl(config), observe: (path) => metrics.callStarted(path) },
    credentials: serverCredentials(config),
    limits: transportLimits(config),
    limited: reportLimits<TransportLimit>(metrics, log),
  }).catch((error: unknown) => {
    metricsServer.server.close();
    void events.stop();
    throw error;
  });

  const setReadiness = (status: 'SERVING' | 'NOT_SERVING') =>
    READINESS_SERVICES.forEach((name) => grpc.health.setStatus(name, status));
  const databaseHealth = watchDatabaseHealth(database.client, database.prepare, (ready) => {
    log.info({ ready }, ready ? 'database ready: serving' : 'database unreachable: not serving');
    setReadiness(ready ? 'SERVING' : 'NOT_SERVING');
  });
  log.info({ host: config.HOST, port: grpc.port, metricsPort: metricsServer.port, database: config.MONGODB_DB }, 'listening');

  return {
    port: grpc.port,
    metricsPort: metricsServer.port,
    async stop() {
      databaseHealth.stop();
      setReadiness('NOT_SERVING');
      grpc.health.setStatus(LIVENESS_SERVICE, 'NOT_SERVING');
      log.info({ graceMs: config.SHUTDOWN_GRACE_MS }, 'refusing new calls; in-flight calls may finish');
      // Watches never finish by themselves: they end now (UNAVAILABLE) and resume on another replica.
      const eventsStopped = events.stop();
      await drain(grpc, inFlight, config.SHUTDOWN_GRACE_MS);
      await eventsStopped;
      await expirySweep.stop();
      await new Promise<void>((done) => metricsServer.server.close(() => done()));
      await database.close();
      await embedded?.stop();
    },
  };
}

/** The use cases over the store, with the configured cap and per-uid create limit. */
function useCases(config: Config, store: TokenStore, metrics: Metrics): { users: Users; tokens: AuthTokens } {
  const perMinute = config.UID_CREATE_LIMIT_PER_MINUTE;
  const rules = {
    maxTokensPerUser: config.MAX_TOKENS_PER_USER,
    maxLifetimeMs: config.MAX_TOKEN_LIFETIME_SECONDS > 0 ? config.MAX_TOKEN_LIFETIME_SECONDS * 1000 : undefined,
    idleMs: idleTimeoutMs(config),
    createLimitPerUid: perMinute > 0 ? { perSecond: perMinute / 60, burst: perMinute } : undefined,
  };
  return { users: new Users(store, metrics, rules.maxLifetimeMs), tokens: new AuthTokens(store, rules, metrics) };
}

function idleTimeoutMs(config: Config): number | undefined {
  return config.IDLE_TIMEOUT_SECONDS > 0 ? config.IDLE_TIMEOUT_SECONDS * 1000 : undefined;
}

/** API keys (none: every local caller is let in) and the per-key rate limit. */
function accessControl(config: Config): AccessControl {
  const perKey = config.RATE_LIMIT_PER_KEY;
  return new AccessControl(
    config.apiKeys.length > 0 ? new ApiKeys(config.apiKeys) : undefined,
    perKey > 0 ? new TokenBuckets(perKey, perKey) : undefined,
  );
}
