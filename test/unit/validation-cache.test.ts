// The validation cache's own rules, on a clock the test moves: what is served from memory, what is
// read again, and when nothing may be trusted. The change stream that drives it is tested against
// a real mongod in test/e2e/validation-cache.test.ts.
import { describe, expect, test } from 'vitest';
import type { CachedLookup } from '../../src/storage/cache/validation-cache';
import { STALE_AFTER_MS, ValidationCache } from '../../src/storage/cache/validation-cache';

const at = new Date('2026-01-01T00:00:00Z');

function lookupOf(uid: string, hashByte: number): { hash: Buffer; found: CachedLookup } {
  const hash = Buffer.alloc(32, hashByte);
  const user = { uid, name: uid, metadata: undefined, createTime: at, updateTime: at };
  const token = {
    tokenId: `tid_${hashByte}`,
    uid,
    tokenHash: hash,
    createTime: at,
    updateTime: at,
    lastUsedTime: undefined,
    expireTime: undefined,
    platform: '',
    deviceId: '',
    userAgent: '',
    appInfo: undefined,
  };
  return { hash, found: { user, token } };
}

/** A cache on a clock the test sets, whose feed has just been heard from. */
function liveCache(maxEntries = 100) {
  let now = 0;
  const cache = new ValidationCache(maxEntries, () => now);
  cache.heard();
  return { cache, advance: (ms: number) => (now += ms) };
}

/** Looks up `entry` through the cache, counting database reads. */
function reader(cache: ValidationCache) {
  let reads = 0;
  const read = async (uid: string, entry: { hash: Buffer; found: CachedLookup | undefined }) => {
    const { found, result } = await cache.lookup(uid, entry.hash, async () => {
      reads++;
      return entry.found;
    });
    return { found, result };
  };
  return { read, reads: () => reads };
}

describe('while the feed is live', () => {
  test('a second lookup of the same token is served from memory', async () => {
    const { cache } = liveCache();
    const { read, reads } = reader(cache);
    const a = lookupOf('alice', 1);
    expect(await read('alice', a)).toEqual({ found: a.found, result: 'miss' });
    expect(await read('alice', a)).toEqual({ found: a.found, result: 'hit' });
    expect(reads()).toBe(1);
  });

  test('a token that is not active is read every time, never cached', async () => {
    const { cache } = liveCache();
    const { read, reads } = reader(cache);
    const gone = { hash: Buffer.alloc(32, 9), found: undefined };
    await read('alice', gone);
    expect(await read('alice', gone)).toEqual({ found: undefined, result: 'miss' });
    expect(reads()).toBe(2);
    expect(cache.size).toBe(0);
  });

  test("invalidating a user drops all of that user's tokens and no one else's", async () => {
    const { cache } = liveCache();
    const { read, reads } = reader(cache);
    const [a1, a2, b] = [lookupOf('alice', 1), lookupOf('alice', 2), lookupOf('bob', 3)];
    for (const [uid, entry] of [['alice', a1], ['alice', a2], ['bob', b]] as const) await read(uid, entry);
    cache.invalidate('alice');
    expect((await read('alice', a1)).result).toBe('miss');
    expect((await read('alice', a2)).result).toBe('miss');
    expect((await read('bob', b)).result).toBe('hit');
    expect(reads()).toBe(5);
  });

  test('a read during which its user changed is returned but not cached', async () => {
    const { cache } = liveCache();
    const a = lookupOf('alice', 1);
    const { result } = await cache.lookup('alice', a.hash, async () => {
      cache.invalidate('alice'); // e.g. the revocation's change event arrives while the read is out
      return a.found;
    });
    expect(result).toBe('miss');
    expect(cache.size).toBe(0);
  });

  test("a change to another user during the read does not stop it being cached", async () => {
    const { cache } = liveCache();
    const a = lookupOf('alice', 1);
    await cache.lookup('alice', a.hash, async () => {
      cache.invalidate('bob');
      return a.found;
    });
    expect(cache.size).toBe(1);
  });

  test('a hash found under another uid is not served for this one', async () => {
    const { cache } = liveCache();
    const { read } = reader(cache);
    const a = lookupOf('alice', 1);
    await read('alice', a);
    expect((await read('mallory', { hash: a.hash, found: undefined })).found).toBeUndefined();
  });

  test('beyond its size, the least recently used entry goes first', async () => {
    const { cache } = liveCache(2);
    const { read } = reader(cache);
    const [a, b, c] = [lookupOf('alice', 1), lookupOf('bob', 2), lookupOf('carol', 3)];
    await read('alice', a);
    await read('bob', b);
    await read('alice', a); // alice is now the most recent
    await read('carol', c); // evicts bob
    expect(cache.size).toBe(2);
    expect((await read('alice', a)).result).toBe('hit');
    expect((await read('carol', c)).result).toBe('hit');
    expect((await read('bob', b)).result).toBe('miss');
    cache.invalidate('bob');
    cache.invalidate('alice');
    expect(cache.size).toBe(1);
  });
});

describe('when the feed cannot be trusted', () => {
  test('before the feed is first heard from, every lookup reads the database and nothing is kept', async () => {
    const cache = new ValidationCache(100, () => 0);
    const { read, reads } = reader(cache);
    const a = lookupOf('alice', 1);
    expect((await read('alice', a)).result).toBe('bypass');
    expect((await read('alice', a)).result).toBe('bypass');
    expect(reads()).toBe(2);
    expect(cache.size).toBe(0);
  });

  test('after a silence longer than STALE_AFTER_MS nothing is served, and what was cached is dropped when it speaks again', async () => {
    const { cache, advance } = liveCache();
    const { read, reads } = reader(cache);
    const a = lookupOf('alice', 1);
    await read('alice', a);
    advance(STALE_AFTER_MS);
    expect((await read('alice', a)).result).toBe('hit'); // at the limit, still trusted
    advance(1);
    expect((await read('alice', a)).result).toBe('bypass');
    cache.heard(); // it may have missed changes while silent
    expect(cache.size).toBe(0);
    expect((await read('alice', a)).result).toBe('miss');
    expect(reads()).toBe(3);
  });

  test('a read that outlives the feed is not cached', async () => {
    const { cache, advance } = liveCache();
    const a = lookupOf('alice', 1);
    await cache.lookup('alice', a.hash, async () => {
      advance(STALE_AFTER_MS + 1);
      cache.heard();
      return a.found;
    });
    expect(cache.size).toBe(0);
  });

  test('a lost feed stops serving at once and forgets everything', async () => {
    const { cache } = liveCache();
    const { read } = reader(cache);
    const a = lookupOf('alice', 1);
    await read('alice', a);
    cache.lost();
    expect(cache.live).toBe(false);
    expect(cache.size).toBe(0);
    expect((await read('alice', a)).result).toBe('bypass');
  });
});
