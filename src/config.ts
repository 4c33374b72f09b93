// Configuration from environment variables, validated once at start-up: every rule a start must
// pass is checked here, including the API key entries and that only a loopback-bound service may
// run without keys.
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { type ConfiguredKey, parseKeyEntries } from './domain/api-keys';
import { DEFAULT_ARCHIVE_RETENTION_DAYS, DEFAULT_MAX_TOKENS_PER_USER } from './domain/rules';

/** An idle timeout far above the one-minute resolution of a token's recorded last use. */
const MIN_IDLE_TIMEOUT_SECONDS = 3600;

const integer = (min: number, max: number, fallback: number) =>
  z.coerce.number().int().min(min).max(max).default(fallback);

const schema = z.object({
  PORT: integer(0, 65535, 50051).describe('gRPC port; 0 picks a free one'),
  HOST: z.string().min(1).default('127.0.0.1').describe('address to bind'),
  METRICS_PORT: integer(0, 65535, 9464).describe('Prometheus /metrics HTTP port; 0 picks a free one'),
  MONGODB_URI: z
    .string()
    .regex(/^mongodb(\+srv)?:\/\//, 'must start with mongodb:// or mongodb+srv://')
    .optional()
    .describe('unset: start the embedded mongod'),
  MONGODB_DB: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,63}$/, 'must be 1-63 letters, digits, "_" or "-"')
    .default('authtoken'),
  MAX_TOKENS_PER_USER: integer(1, 1000, DEFAULT_MAX_TOKENS_PER_USER),
  ARCHIVE_RETENTION_DAYS: integer(1, 36500, DEFAULT_ARCHIVE_RETENTION_DAYS),
  MAX_TOKEN_LIFETIME_SECONDS: integer(0, 100 * 365 * 86_400, 0).describe(
    'every token expires at most this long after it is issued (CreateAuthToken ttl/expire_time may ask for less); 0: off',
  ),
  IDLE_TIMEOUT_SECONDS: integer(0, 100 * 365 * 86_400, 0).describe(
    'a token not validated for this long stops validating (counted from its issue if never used); 0: off',
  ),
  EXPIRY_SWEEP_INTERVAL_MS: integer(100, 3_600_000, 30_000).describe('how often expired tokens are archived (EXPIRED)'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  EMBEDDED_MONGOD_DATA_DIR: z.string().min(1).default('.data/mongodb').describe('embedded mongod data folder'),
  MONGOD_CACHE_DIR: z
    .string()
    .min(1)
    .default(join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'auth-token-service'))
    .describe('where the embedded mongod binary is cached'),
  SHUTDOWN_GRACE_MS: integer(0, 600_000, 10_000).describe('how long in-flight calls may finish on SIGTERM'),
  API_KEYS: z.string().optional().describe('API key entries name:scope:sha256hex, comma- or newline-separated'),
  API_KEYS_FILE: z.string().optional().describe('file with one API key entry per line'),
  RATE_LIMIT_PER_KEY: integer(0, 1_000_000, 1000).describe('calls per second per API key (burst the same); 0: off'),
  UID_CREATE_LIMIT_PER_MINUTE: integer(0, 100_000, 30).describe('CreateAuthToken calls per uid per minute (burst the same); 0: off'),
  VALIDATION_CACHE_ENTRIES: integer(0, 10_000_000, 10_000).describe(
    'validation lookups kept in memory, invalidated by a change stream; 0: off',
  ),
  // Transport limits: what one client can make a replica hold (src/grpc/transport-limits.ts).
  MAX_CONNECTIONS: integer(1, 1_000_000, 1000).describe('client connections at once; more are closed on arrival'),
  MAX_CONCURRENT_STREAMS: integer(1, 10_000, 100).describe('calls at once on one connection (HTTP/2 SETTINGS)'),
  MAX_RUNNING_CALLS: integer(1, 100_000, 16).describe(
    'API calls handled at once; more wait, and connections take turns (keep below the MongoDB pool size)',
  ),
  CONNECTION_IDLE_TIMEOUT_MS: integer(1000, 86_400_000, 300_000).describe('a connection with no call for this long is closed'),
  CONNECTION_MAX_AGE_MS: integer(1000, 86_400_000, 300_000).describe('connections are asked to reconnect after this long'),
  UNREAD_RESPONSE_BYTES_PER_CONNECTION: integer(64 * 1024, 1024 ** 3, 8 * 1024 ** 2).describe(
    'response bytes one connection may leave unread before further responses are refused',
  ),
  UNREAD_RESPONSE_BYTES: integer(64 * 1024, 16 * 1024 ** 3, 32 * 1024 ** 2).describe(
    'response bytes all connections together may leave unread',
  ),
  MAX_HEALTH_WATCH_STREAMS: integer(1, 1_000_000, 1000).describe('health Watch streams at once (they need no key)'),
  MAX_EVENT_STREAMS: integer(1, 10_000, 100).describe('WatchAuthTokenEvents streams at once, per replica'),
  EVENT_STREAM_BACKLOG: integer(10, 100_000, 1000).describe(
    'events one WatchAuthTokenEvents stream may hold that its client has not read; beyond, it is reset (RESOURCE_EXHAUSTED)',
  ),
  EVENT_REPLAY_EVENTS: integer(0, 1_000_000, 10_000).describe(
    'latest events kept in memory for watches that resume; older resume points are read from the oplog',
  ),
  TLS_CERT_FILE: z.string().optional().describe('PEM certificate chain; with TLS_KEY_FILE enables TLS'),
  TLS_KEY_FILE: z.string().optional(),
  TLS_CLIENT_CA_FILE: z.string().optional().describe('PEM CA bundle; requires and verifies client certificates (mTLS)'),
});

/** Every environment variable the service reads (e.g. for launchers that must not pass on the caller's). */
export const CONFIG_KEYS: readonly string[] = Object.keys(schema.shape);

export interface Config extends z.infer<typeof schema> {
  /** From API_KEYS and API_KEYS_FILE; empty: every caller is let in (loopback only). */
  apiKeys: readonly ConfiguredKey[];
}

export class ConfigError extends Error {}

export function loadConfig(env: NodeJS.ProcessEnv): Config {
  // An empty variable means "unset", as in most deployment tools.
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const result = schema
    .superRefine((c, ctx) => {
      if (Boolean(c.TLS_CERT_FILE) !== Boolean(c.TLS_KEY_FILE)) {
        ctx.addIssue({ code: 'custom', path: ['TLS_KEY_FILE'], message: 'TLS_CERT_FILE and TLS_KEY_FILE go together' });
      }
      if (c.IDLE_TIMEOUT_SECONDS > 0 && c.IDLE_TIMEOUT_SECONDS < MIN_IDLE_TIMEOUT_SECONDS) {
        ctx.addIssue({
          code: 'custom',
          path: ['IDLE_TIMEOUT_SECONDS'],
          message: `at least ${MIN_IDLE_TIMEOUT_SECONDS} (last use is recorded at most once a minute), or 0 for off`,
        });
      }
      if (c.TLS_CLIENT_CA_FILE && !c.TLS_CERT_FILE) {
        ctx.addIssue({ code: 'custom', path: ['TLS_CLIENT_CA_FILE'], message: 'mTLS needs TLS_CERT_FILE and TLS_KEY_FILE' });
      }
    })
    .safeParse(present);
  if (!result.success) {
    const lines = result.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new ConfigError(`Invalid configuration:\n${lines.join('\n')}`);
  }
  const apiKeys = readApiKeys(result.data);
  if (apiKeys.length === 0 && !isLoopback(result.data.HOST)) {
    throw new ConfigError(
      `Refusing to listen on ${result.data.HOST} without API keys: anyone who can reach it could mint ` +
        `tokens for any user. Configure API_KEYS or API_KEYS_FILE (npm run keys -- create --scope full), ` +
        `or bind HOST to 127.0.0.1.`,
    );
  }
  return { ...result.data, apiKeys };
}

function readApiKeys(config: z.infer<typeof schema>): ConfiguredKey[] {
  try {
    return [
      ...parseKeyEntries(config.API_KEYS ?? ''),
      ...parseKeyEntries(config.API_KEYS_FILE ? readFileSync(config.API_KEYS_FILE, 'utf8') : ''),
    ];
  } catch (error) {
    throw new ConfigError(`Invalid configuration:\n  API_KEYS / API_KEYS_FILE: ${(error as Error).message}`);
  }
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(host);
}
