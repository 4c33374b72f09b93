// The MongoDB store directly, with clocks the service would never choose on its own: a replica
// whose clock is behind, and several tokens in one millisecond.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { inject } from 'vitest';
import { NO_DEVICE, newToken } from '../../src/domain/auth-tokens';
import { hashToken } from '../../src/domain/token-format';
import type { TokenStore } from '../../src/domain/token-store';
import { callDeadline } from '../../src/domain/deadline';
import { createLogger } from '../../src/observability/logger';
import { type Database, openDatabase } from '../../src/storage/database';

let database: Database;
let store: TokenStore;
const dbName = `test_store_${randomUUID().slice(0, 8)}`;
/** A deadline for store calls: the default budget a gRPC call without one gets. */
const soon = () => callDeadline(Infinity);
/** The store itself; the validation cache in front of it has tests of its own. */
const UNCACHED = { validationCacheEntries: 0, log: createLogger('silent') };

beforeAll(async () => {
  database = openDatabase({ uri: inject('mongoUri'), dbName, archiveRetentionDays: 90, ...UNCACHED });
  await database.prepare();
  store = database.store;
});
afterAll(async () => {
  await database.client.db(dbName).dropDatabase();
  await database.close();
});

async function userWithClock(uid: string) {
  const now = new Date('2026-06-01T12:00:00.000Z');
  await store.createUser({ uid, name: uid, metadata: undefined, createTime: now, updateTime: now }, undefined, soon());
  return async (at: Date, max = 100) => {
    const { stored } = newToken(uid, NO_DEVICE, at);
    const result = await store.issueToken(stored, { replaceDeviceId: undefined, maxTokensPerUser: max }, at, soon());
    return { tokenId: stored.tokenId, ...result };
  };
}

test('a token issued by a clock that is behind is still stamped strictly newest (below the cap)', async () => {
  const issue = await userWithClock('behind');
  const first = await issue(new Date('2026-06-01T12:00:10.000Z'));
  const late = await issue(new Date('2026-06-01T11:59:00.000Z'));
  expect(late.createTime.getTime()).toBe(first.createTime.getTime() + 1);
});

test('tokens issued in the same millisecond get strictly increasing create times', async () => {
  const issue = await userWithClock('same-ms');
  const at = new Date('2026-06-01T12:00:00.000Z');
  const times = [];
  for (let i = 0; i < 5; i++) times.push((await issue(at)).createTime.getTime());
  expect(times).toEqual([0, 1, 2, 3, 4].map((i) => at.getTime() + i));
});

test('at the cap, the token evicted is the oldest, never the one just issued, whatever the clock says', async () => {
  const issue = await userWithClock('at-cap');
  const oldest = await issue(new Date('2026-06-01T12:00:00.000Z'), 2);
  const second = await issue(new Date('2026-06-01T12:00:01.000Z'), 2);
  const behind = await issue(new Date('2026-06-01T11:00:00.000Z'), 2);
  expect(behind.evictedTokenIds).toEqual([oldest.tokenId]);
  const active = await store.listTokens('at-cap', soon());
  expect(active.map((t) => t.tokenId).sort()).toEqual([second.tokenId, behind.tokenId].sort());
  expect(behind.createTime.getTime()).toBe(second.createTime.getTime() + 1);
});

test('archived tokens carry a TTL index for the retention period, updated when the setting changes', async () => {
  const retention = async () => {
    const indexes = await database.client.db(dbName).collection('archived_tokens').listIndexes().toArray();
    return indexes.find((i) => i.key.archiveTime === 1 && Object.keys(i.key).length === 1)?.expireAfterSeconds;
  };
  expect(await retention()).toBe(90 * 86_400);

  const changed = openDatabase({ uri: inject('mongoUri'), dbName, archiveRetentionDays: 7, ...UNCACHED });
  try {
    await changed.prepare();
    expect(await retention()).toBe(7 * 86_400);
  } finally {
    await changed.close();
  }
});

test('a token found for validation holds its own 32-byte hash, not a view of the driver read buffer it arrived in', async () => {
  const uid = 'hash-owner';
  await userWithClock(uid);
  const { secret, stored } = newToken(uid, NO_DEVICE, new Date());
  await store.issueToken(stored, { replaceDeviceId: undefined, maxTokensPerUser: 100 }, new Date(), soon());
  const found = await store.findActiveToken(uid, hashToken(secret), soon());
  // What the validation cache keeps: a view would pin the whole read (up to 64 KB) per entry.
  expect(found?.token.tokenHash.equals(stored.tokenHash)).toBe(true);
  expect(found?.token.tokenHash.buffer.byteLength).toBe(32);
});
