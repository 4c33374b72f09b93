// Token-bucket rate limiting, one bucket per key (API key name, uid), kept in memory.

export class TokenBuckets {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  /**
   * @param perSecond refill rate; each bucket holds at most `burst` tokens and starts full.
   * @param maxKeys buckets kept; the least recently used are dropped (they restart full).
   */
  constructor(
    private readonly perSecond: number,
    private readonly burst: number,
    private readonly maxKeys = 100_000,
    private readonly nowMs: () => number = () => performance.now(),
  ) {}

  /** Takes one token for `key`: 0 if allowed, else the milliseconds until one is available. */
  take(key: string): number {
    const now = this.nowMs();
    const bucket = this.buckets.get(key) ?? { tokens: this.burst, at: now };
    const tokens = Math.min(this.burst, bucket.tokens + ((now - bucket.at) / 1000) * this.perSecond);
    // Re-inserting keeps the Map in least-recently-used order.
    this.buckets.delete(key);
    if (tokens >= 1) {
      this.buckets.set(key, { tokens: tokens - 1, at: now });
      if (this.buckets.size > this.maxKeys) this.buckets.delete(this.buckets.keys().next().value!);
      return 0;
    }
    this.buckets.set(key, { tokens, at: now });
    return ((1 - tokens) / this.perSecond) * 1000;
  }
}
