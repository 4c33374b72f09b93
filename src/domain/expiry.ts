// When a token stops validating. A token may carry an expire_time: the ttl or expire_time its
// CreateAuthToken asked for, or else the server's maximum lifetime (MAX_TOKEN_LIFETIME_SECONDS),
// whichever applies; without either it never expires, as at CometChat. Validation refuses it from
// that instant on; the expiry sweep (expiry-sweep.ts) archives it as EXPIRED soon after.
import type { RequestValidator } from './validation';

/** A google.protobuf.Duration, as the transport decodes it. */
export interface RequestedTtl {
  readonly seconds: number;
  readonly nanos: number;
}

export function isExpired(token: { readonly expireTime?: Date }, now: Date): boolean {
  return token.expireTime !== undefined && token.expireTime.getTime() <= now.getTime();
}

/** The latest a token issued `now` may expire: `maxLifetimeMs` later; undefined without a maximum. */
export function latestExpiry(now: Date, maxLifetimeMs: number | undefined): Date | undefined {
  return maxLifetimeMs === undefined ? undefined : new Date(now.getTime() + maxLifetimeMs);
}

/**
 * The expire_time of a token issued `now`: from `ttl` or `expireTime` (at most one of them, in
 * the future, within `maxLifetimeMs` when that is set), or else now + `maxLifetimeMs`, or none.
 */
export function expiryOf(
  v: RequestValidator,
  { ttl, expireTime }: { ttl?: RequestedTtl; expireTime?: Date },
  now: Date,
  maxLifetimeMs: number | undefined,
): Date | undefined {
  if (ttl !== undefined && expireTime !== undefined) {
    v.fail('ttl', 'Give ttl or expire_time, not both.');
    v.fail('expire_time', 'Give ttl or expire_time, not both.');
    return undefined;
  }
  const latest = latestExpiry(now, maxLifetimeMs);
  const beyondMax = `At most MAX_TOKEN_LIFETIME_SECONDS (${(maxLifetimeMs ?? 0) / 1000} s) from now.`;
  if (ttl !== undefined) {
    const ms = ttl.seconds * 1000 + ttl.nanos / 1e6;
    if (!(ms > 0)) v.fail('ttl', 'Must be positive.');
    else if (latest && ms > maxLifetimeMs!) v.fail('ttl', beyondMax);
    return new Date(now.getTime() + ms);
  }
  if (expireTime !== undefined) {
    if (!(expireTime.getTime() > now.getTime())) v.fail('expire_time', 'Must be in the future.');
    else if (latest && expireTime.getTime() > latest.getTime()) v.fail('expire_time', beyondMax);
    return expireTime;
  }
  return latest;
}
