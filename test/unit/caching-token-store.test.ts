// The caching store's writes (src/storage/cache/caching-token-store.ts), with a store and a change
// feed the test controls: a revoking write that committed returns only once the feed has delivered
// its change, and every write drops the user's cached tokens, whatever its outcome.
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
  'revokeTokens',
  'usersWithExpiredTokens',
  'expireTokens',
  'findActiveToken',
  'recordTokenUse',
  'listArchivedTokens',
];
const at = new Date('2026-01-01T00:00:00Z');
const deadline = callDeadline(Infinity);
const token = newToken('alice', NO_DEVICE, at).stored;
const held: CachedLookup = { user: { uid: 'alice', name: 'Alice', metadata: undefined, createTime: at, updateTime: at }, token };
const COMMIT = new Timestamp({ t: 1, i: 1 });

/**
 * A caching store over a fake whose flush commits at COMMIT (or commits nothing, or fails), and whose feed
 * delivers when the test says; Alice's token is held in the cache.
 */
async function setUp({ committed = true, fails = false } = {}) {
  const cache = new ValidationCache(10);
  cache.heard();
  const unused = async () => expect.unreachable('not called by these tests');
  const fake = {
    ...Object.fromEntries(METHODS.map((m) => [m, unused])),
    findActiveToken: async () => held,
    flushTokens: async () => {
      if (fails) throw new Error('connection reset');
      return { result: 1, committedAt: committed ? COMMIT : undefined };
    },
  } as unknown as CommittingTokenStore;
  const asked: Timestamp[] = [];
  let deliver!: () => void;
  const delivered = new Promise<void>((resolve) => (deliver = resolve));
  const feed = {
    delivered: (time: Timestamp) => {
      asked.push(time);
      return delivered;
    },
  };
  const store: TokenStore = cachingValidations(fake, cache, feed);
  await store.findActiveToken('alice', hash(), deadline);
  const stillCached = async () => (await cache.lookup('alice', hash(), async () => held)).result === 'hit';
  return { store, stillCached, asked, deliver };
}
const hash = () => token.tokenHash;

test('a revoking write that committed returns only once the feed has delivered its change, and drops the user\'s entries', async () => {
  const { store, stillCached, asked, deliver } = await setUp();
  let returned = false;
  const flushing = store.flushTokens('alice', {}, at, deadline).then((n) => ((returned = true), n));
  await Promise.resolve();
  await Promise.resolve();
  expect([returned, asked]).toEqual([false, [COMMIT]]);
  deliver();
  expect(await flushing).toBe(1);
  expect(await stillCached()).toBe(false);
});

test('a write that committed nothing to wait for returns at once, and drops the entries all the same', async () => {
  const { store, stillCached, asked } = await setUp({ committed: false });
  expect(await store.flushTokens('alice', {}, at, deadline)).toBe(1);
  expect(asked).toEqual([]);
  expect(await stillCached()).toBe(false);
});

test('a revoking write that failed drops them too: it may have applied', async () => {
  const { store, stillCached } = await setUp({ fails: true });
  await expect(store.flushTokens('alice', {}, at, deadline)).rejects.toThrow('connection reset');
  expect(await stillCached()).toBe(false);
});
