// Who may call what, and how often: the API key in `authorization: Bearer <key>` metadata, its
// scope, and the per-key rate limit. Health and reflection are not behind this (probes have no keys).
import type { Metadata } from '@grpc/grpc-js';
import { ApiKeys } from '../domain/api-keys';
import { apiKeyNotFound, noAccess, tooManyRequests } from '../domain/errors';
import type { TokenBuckets } from '../domain/token-bucket';

/** Name used in logs and rate limiting when the service runs without keys (loopback only). */
const ANONYMOUS = 'anonymous';

export class AccessControl {
  /**
   * @param keys undefined: no keys configured, every caller is let in (only allowed on loopback).
   * @param perKeyLimit undefined: no rate limit.
   */
  constructor(
    private readonly keys: ApiKeys | undefined,
    private readonly perKeyLimit: TokenBuckets | undefined,
  ) {}

  /** Throws the UNAUTHENTICATED / PERMISSION_DENIED / RESOURCE_EXHAUSTED error; returns the key's name. */
  admit(metadata: Metadata, method: string): string {
    let name = ANONYMOUS;
    if (this.keys) {
      const presented = bearerToken(metadata);
      const key = presented === undefined ? undefined : this.keys.find(presented);
      if (!key) throw apiKeyNotFound();
      if (!ApiKeys.allows(key, method)) throw noAccess(key.name, method);
      name = key.name;
    }
    const waitMs = this.perKeyLimit?.take(name) ?? 0;
    if (waitMs > 0) throw tooManyRequests(waitMs, 'API key');
    return name;
  }
}

function bearerToken(metadata: Metadata): string | undefined {
  const value = metadata.get('authorization')[0];
  const match = typeof value === 'string' ? /^Bearer\s+(\S+)\s*$/i.exec(value) : null;
  return match?.[1];
}
