import pino from 'pino';

export type Logger = pino.Logger;

export function createLogger(level: string): Logger {
  return pino({
    level,
    base: { service: 'auth-token-service' },
    // Defence in depth: request bodies are never logged, but should a token or key reach a log
    // object under these names, it is censored.
    redact: { paths: ['authToken', '*.authToken', 'auth_token', '*.auth_token', 'authorization', '*.authorization'], censor: '[redacted]' },
  });
}
