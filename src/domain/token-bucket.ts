// Token-bucket rate limiting: the rule, and buckets per key (API key name) kept in memory. The
// per-uid create limit keeps its bucket in the user's document instead (storage/token-writes.ts
// computes the same refill there), so that it holds across replicas.

/** A bucket's level: `tokens` as of `at` (ms). */
export interface BucketLevel {
  tokens: number;
  at: number;
}

/** The limit of one bucket: refills at `perSecond`, holds at most `burst` tokens, and starts full. */
export interface BucketLimit {
  perSecond: number;
  burst: number;
}

/** The tokens a bucket holds at `now`; a clock behind the last take (another replica's) adds none. */
export function refill(level: BucketLevel | undefined, now: number, { perSecond, burst }: BucketLimit): number {
  if (!level) return burst;
  return Math.min(burst, level.tokens + (Math.max(0, now - level.at) / 1000) * perSecond);
}

/** The milliseconds until a bucket holding `tokens` has one to give. */
export function waitForToken(tokens: number, { perSecond }: BucketLimit): number {
  return ((1 - tokens) / perSecond) * 1000;
}

export class TokenBuckets {
  private readonly buckets = new Map<string, BucketLevel>();
  private readonly limit: BucketLimit;

  /**
   * @param perSecond refill rate; each bucket holds at most `burst` tokens and starts full.
   * @param maxKeys buckets kept; the least recently used are dropped (they restart full).
   */
  constructor(
    perSecond: number,
    burst: number,
    private readonly maxKeys = 100_000,
    private readonly nowMs: () => number = () => performance.now(),
  ) {
    this.limit = { perSecond, burst };
  }

  /** Takes one token for `key`: 0 if allowed, else the milliseconds until one is available. */
  take(key: string): number {
    const now = this.nowMs();
    const tokens = refill(this.buckets.get(key), now, this.limit);
    // Re-inserting keeps the Map in least-recently-used order.
    this.buckets.delete(key);
    if (tokens >= 1) {
      this.buckets.set(key, { tokens: tokens - 1, at: now });
      if (this.buckets.size > this.maxKeys) this.buckets.delete(this.buckets.keys().next().value!);
      return 0;
    }
    this.buckets.set(key, { tokens, at: now });
    return waitForToken(tokens, this.limit);
  }
}
