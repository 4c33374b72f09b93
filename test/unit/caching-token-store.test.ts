// Who drops a user's cached tokens after a write (src/storage/cache/caching-token-store.ts), with
// a store and a change feed the test controls: the feed, once it has delivered a revoking write's
// commit; the decorator itself only when the feed did not, when the write failed, or for a
// non-revoking write that changes a token.
import { Timestamp } from 'mongodb';
import { expect, test } from 'vitest';
import { NO_DEVICE, newToken } from '../../src/domain/auth-tokens';
import { callDeadline } from '../../src/domain/deadline';
import type { TokenStore } from '../../src/domain/token-store';
import { cachingValidations } from '../../src/storage/cache/caching-token-store';
import { type CachedLookup, ValidationCache } from '../../src/storage/cache/validation-cache';
import type { CommittingTokenStore } from '../../src/storage/committed-writes';

const METHODS: (keyof TokenStore)[] = [
  'createUser',
  'getUser',
  'deleteUser',
  'issueToken',
  'listTokens',
  'getToken',
  'updateToken',
  'deleteToken',
  'flushTokens',
  'findActiveToken',
  'recordTokenUse',
  'listArchivedTokens',
];
const at = new Date('2026-01-01T00:00:00Z');
const deadline = callDeadline(Infinity);
const token = newToken('alice', NO_DEVICE, at).stored;
const hash = token.tokenHash;
const held: CachedLookup = { user: { uid: 'alice', name: 'Alice', metadata: undefined, createTime: at, updateTime: at }, token };

/**
 * A caching store over a fake whose flush commits at `committedAt` (or fails), and whose feed
 * answers `delivered`; Alice's token is held in the cache. Returns the store and whether the token
 * is still served from memory.
 */
async function setUp({ committedAt = new Timestamp({ t: 1, i: 1 }), delivered = true, fails = false } = {}) {
  const cache = new ValidationCache(10);
  cache.heard();
  const unused = async () => expect.unreachable('not called by these tests');
  const fake = {
    ...Object.fromEntries(METHODS.map((m) => [m, unused])),
    findActiveToken: async () => held,
    flushTokens: async () => {
      if (fails) throw new Error('connection reset');
      return { result: 1, committedAt };
    },
    issueToken: async () => ({ result: { createTime: at, evictedTokenIds: [], replacedTokenIds: [] }, committedAt: undefined }),
    updateToken: async () => held.token,
  } as unknown as CommittingTokenStore;
  const store: TokenStore = cachingValidations(fake, cache, { delivered: async () => delivered });
  await store.findActiveToken('alice', hash, deadline);
  const stillCached = async () => (await cache.lookup('alice', hash, async () => held)).result === 'hit';
  return { store, stillCached };
}

test('a revoking write whose change the feed delivered leaves the dropping to the feed (the write does not drop twice)', async () => {
  const { store, stillCached } = await setUp({ delivered: true });
  await store.flushTokens('alice', at, deadline);
  // The fake feed drops nothing; the real one dropped the user's entries before it answered.
  expect(await stillCached()).toBe(true);
});

test('a revoking write whose change the feed did not deliver in time drops the user\'s entries itself', async () => {
  const { store, stillCached } = await setUp({ delivered: false });
  await store.flushTokens('alice', at, deadline);
  expect(await stillCached()).toBe(false);
});

test('a revoking write that failed drops them too: it may have applied', async () => {
  const { store, stillCached } = await setUp({ fails: true });
  await expect(store.flushTokens('alice', at, deadline)).rejects.toThrow('connection reset');
  expect(await stillCached()).toBe(false);
});

test('an issue below the cap revokes nothing and drops nothing', async () => {
  const { store, stillCached } = await setUp();
  await store.issueToken(newToken('alice', NO_DEVICE, at).stored, { replaceDeviceId: undefined, maxTokensPerUser: 10 }, at, deadline);
  expect(await stillCached()).toBe(true);
});

test('an update of a token drops the user\'s entries at once (it has no commit time to wait for)', async () => {
  const { store, stillCached } = await setUp();
  await store.updateToken('alice', { tokenId: token.tokenId }, { platform: 'ios' }, at, deadline);
  expect(await stillCached()).toBe(false);
});
