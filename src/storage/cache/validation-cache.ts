// ValidateAuthToken's lookups, kept in memory while a change stream on `users` proves them current.
//
// Every replica follows every change to every user document (UserChangeFeed) and drops the cached
// tokens of that user, so a token revoked, evicted or replaced through any replica, or by hand in
// the database, is refused by this one as soon as the change reaches it. Writes through this
// replica also drop their user's entries themselves, before they return. While the feed is not
// proven live (not started yet, failed, or silent for longer than STALE_AFTER_MS) nothing is served
// from memory and nothing is cached: every lookup reads the database, as without a cache.
import type { StoredAuthToken, User } from '../../domain/model';
import type { CacheLookupResult } from '../../domain/token-activity';

export interface CachedLookup {
  user: User;
  token: StoredAuthToken;
}

/** The feed answers at least this often when it is healthy (its getMore waits at most this long). */
export const FEED_HEARTBEAT_MS = 500;
/** Longer than this without a word from the feed, and the cache is neither served nor trusted. */
export const STALE_AFTER_MS = 1_000;

/** A lookup in flight: whether a change to its user happened while it read the database. */
interface Ticket {
  uid: string;
  invalidated: boolean;
}

export class ValidationCache {
  /** By token hash (base64); Map order is recency, oldest first, for LRU eviction. */
  private readonly entries = new Map<string, CachedLookup>();
  private readonly keysByUid = new Map<string, Set<string>>();
  private readonly pending = new Set<Ticket>();
  private lastHeardAt = -Infinity;

  constructor(
    private readonly maxEntries: number,
    private readonly now: () => number = () => performance.now(),
  ) {}

  get size(): number {
    return this.entries.size;
  }

  /** True while the feed has been heard from recently enough for the entries to be trusted. */
  get live(): boolean {
    return this.now() - this.lastHeardAt <= STALE_AFTER_MS;
  }

  /**
   * The cached lookup of `tokenHash`, or else `load` (the database read), cached only if nothing
   * about the user changed while it ran and the feed stayed live throughout.
   */
  async lookup(
    uid: string,
    tokenHash: Buffer,
    load: () => Promise<CachedLookup | undefined>,
  ): Promise<{ found: CachedLookup | undefined; result: CacheLookupResult }> {
    const key = tokenHash.toString('base64');
    if (!this.live) return { found: await load(), result: 'bypass' };
    const cached = this.entries.get(key);
    if (cached && cached.user.uid === uid) {
      this.entries.delete(key);
      this.entries.set(key, cached);
      return { found: cached, result: 'hit' };
    }
    const ticket: Ticket = { uid, invalidated: false };
    this.pending.add(ticket);
    try {
      const found = await load();
      // Only active tokens are cached: a miss is cheap to repeat, and caching it would need its
      // own invalidation when a token with that hash appears (it never does: hashes are unique).
      if (found && !ticket.invalidated && this.live) this.add(key, found);
      return { found, result: 'miss' };
    } finally {
      this.pending.delete(ticket);
    }
  }

  /** The user's document changed (or may have): forget its tokens, and distrust reads in flight. */
  invalidate(uid: string): void {
    for (const ticket of this.pending) if (ticket.uid === uid) ticket.invalidated = true;
    const keys = this.keysByUid.get(uid);
    if (!keys) return;
    for (const key of keys) this.entries.delete(key);
    this.keysByUid.delete(uid);
  }

  /** Forgets everything: the feed failed or may have missed changes. */
  clear(): void {
    for (const ticket of this.pending) ticket.invalidated = true;
    this.entries.clear();
    this.keysByUid.clear();
  }

  /** The feed answered: everything up to now is accounted for. After a silence, start afresh. */
  heard(): void {
    if (!this.live) this.clear();
    this.lastHeardAt = this.now();
  }

  /** The feed stopped: stop serving at once rather than after STALE_AFTER_MS. */
  lost(): void {
    this.lastHeardAt = -Infinity;
    this.clear();
  }

  private add(key: string, found: CachedLookup): void {
    const uid = found.user.uid;
    this.entries.set(key, found);
    let keys = this.keysByUid.get(uid);
    if (!keys) this.keysByUid.set(uid, (keys = new Set()));
    keys.add(key);
    if (this.entries.size <= this.maxEntries) return;
    const [oldestKey, oldest] = this.entries.entries().next().value!;
    this.entries.delete(oldestKey);
    const oldestKeys = this.keysByUid.get(oldest.user.uid);
    oldestKeys?.delete(oldestKey);
    if (oldestKeys?.size === 0) this.keysByUid.delete(oldest.user.uid);
  }
}
