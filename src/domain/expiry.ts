// When a token stops validating. A token may carry an expire_time: the ttl or expire_time its
// CreateAuthToken asked for, or else the server's maximum lifetime (MAX_TOKEN_LIFETIME_SECONDS),
// whichever applies. With the server's idle timeout (IDLE_TIMEOUT_SECONDS) it also stops that long
// after its last use (its issue, if never used). Without either it never expires, as at
// CometChat. Validation refuses it from that instant on; the expiry sweep (expiry-sweep.ts)
// archives it as EXPIRED soon after.
import type { RequestValidator } from './validation';

/** A google.protobuf.Duration, as the transport decodes it. */
export interface RequestedTtl {
  readonly seconds: number;
  readonly nanos: number;
}

/** What a token's expiry depends on, as stored or as a domain record. */
export interface ExpiringToken {
  readonly expireTime?: Date;
  readonly createTime: Date;
  readonly lastUsedTime?: Date | null;
}

/** When `token` stops validating: its expire_time, or `idleMs` after its last use, whichever is first. */
export function expiresAt(token: ExpiringToken, idleMs: number | undefined): Date | undefined {
  const idleUntil = idleMs === undefined ? undefined : (token.lastUsedTime ?? token.createTime).getTime() + idleMs;
  const until = Math.min(token.expireTime?.getTime() ?? Infinity, idleUntil ?? Infinity);
  return until === Infinity ? undefined : new Date(until);
}

export function isExpired(token: ExpiringToken, now: Date, idleMs?: number): boolean {
  const at = expiresAt(token, idleMs);
  return at !== undefined && at.getTime() <= now.getTime();
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
