// API keys and TLS from the configuration, and the rule that only a loopback-bound service may
// run without keys.
import { readFileSync } from 'node:fs';
import { ServerCredentials } from '@grpc/grpc-js';
import { type Config, ConfigError } from './config';
import { ApiKeys, parseKeyEntries } from './domain/api-keys';
import type { Logger } from './logger';

export interface Security {
  /** Undefined when no keys are configured: every caller is let in. */
  keys: ApiKeys | undefined;
  credentials: ServerCredentials;
}

export function loadSecurity(config: Config, log: Logger): Security {
  let entries;
  try {
    entries = [
      ...parseKeyEntries(config.API_KEYS ?? ''),
      ...parseKeyEntries(config.API_KEYS_FILE ? readFileSync(config.API_KEYS_FILE, 'utf8') : ''),
    ];
  } catch (error) {
    throw new ConfigError(`Invalid configuration:\n  API_KEYS / API_KEYS_FILE: ${(error as Error).message}`);
  }
  if (entries.length === 0) {
    if (!isLoopback(config.HOST)) {
      throw new ConfigError(
        `Refusing to listen on ${config.HOST} without API keys: anyone who can reach it could mint ` +
          `tokens for any user. Configure API_KEYS or API_KEYS_FILE (npm run keys -- create --scope full), ` +
          `or bind HOST to 127.0.0.1.`,
      );
    }
    log.warn({ host: config.HOST }, 'no API keys configured: every local caller has full access');
  }
  return {
    keys: entries.length > 0 ? new ApiKeys(entries) : undefined,
    credentials: serverCredentials(config),
  };
}

function serverCredentials(config: Config): ServerCredentials {
  if (!config.TLS_CERT_FILE || !config.TLS_KEY_FILE) return ServerCredentials.createInsecure();
  const clientCa = config.TLS_CLIENT_CA_FILE ? readFileSync(config.TLS_CLIENT_CA_FILE) : null;
  return ServerCredentials.createSsl(
    clientCa,
    [{ cert_chain: readFileSync(config.TLS_CERT_FILE), private_key: readFileSync(config.TLS_KEY_FILE) }],
    clientCa !== null, // with a client CA, a client certificate is required (mutual TLS)
  );
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(host);
}
