// What only the MongoDB store has: the archive's TTL index, hashes copied out of the driver's
// read buffers, and update pipelines that leave no working field behind. Its behaviour as a
// TokenStore (clocks behind, tokens in one millisecond, the cap) is the contract in
// token-store-contract.test.ts, run on this store and on the in-memory one.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { inject } from 'vitest';
import { NO_DEVICE, newToken } from '../../src/domain/auth-tokens';
import { hashToken } from '../../src/domain/token-format';
import type { TokenStore } from '../../src/domain/token-store';
import { callDeadline } from '../../src/domain/deadline';
import { createLogger } from '../../src/observability/logger';
import { type Database, openDatabase } from '../../src/storage/database';
import { USERS, type UserDoc } from '../../src/storage/documents';
import pino from 'pino';
import { pollUntil } from '../support/poll';

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
  const now = new Date();
  await store.createUser({ uid, name: uid, metadata: undefined, createTime: now, updateTime: now }, undefined, soon());
  const { secret, stored } = newToken(uid, NO_DEVICE, new Date());
  await store.issueToken(stored, { replaceDeviceId: undefined, maxTokensPerUser: 100 }, new Date(), soon());
  const found = await store.findActiveToken(uid, hashToken(secret), soon());
  // What the validation cache keeps: a view would pin the whole read (up to 64 KB) per entry.
  expect(found?.token.tokenHash.equals(stored.tokenHash)).toBe(true);
  expect(found?.token.tokenHash.buffer.byteLength).toBe(32);
});

test("the update pipelines leave none of their working fields in the user's document", async () => {
  const uid = 'no-scratch';
  const now = new Date();
  await store.createUser({ uid, name: uid, metadata: undefined, createTime: now, updateTime: now }, undefined, soon());
  const atCap = { replaceDeviceId: undefined, maxTokensPerUser: 2 };
  const device = { ...NO_DEVICE, deviceId: 'phone' };
  // Issue below and at the cap, replace a device's token, delete one, flush: each pipeline once.
  for (let i = 0; i < 3; i++) await store.issueToken(newToken(uid, NO_DEVICE, new Date()).stored, atCap, new Date(), soon());
  await store.issueToken(newToken(uid, device, new Date()).stored, atCap, new Date(), soon());
  const { stored } = newToken(uid, device, new Date());
  await store.issueToken(stored, { ...atCap, replaceDeviceId: 'phone' }, new Date(), soon());
  await store.deleteToken(uid, { tokenId: stored.tokenId }, new Date(), soon());
  await store.flushTokens(uid, {}, new Date(), soon());
  const doc = await database.client.db(dbName).collection(USERS).findOne({ _id: uid as never });
  expect(Object.keys(doc!).filter((field) => field.startsWith('_') && field !== '_id')).toEqual([]);
});

test('the recovery sweep starts once the indexes it walks exist: a first start on a populated database logs no failed pass', async () => {
  // A database written before, without this version's indexes (an upgrade that adds one), holding
  // a deleted user whose document's removal failed: the sweep's to finish.
  const populated = `test_store_${randomUUID().slice(0, 8)}`;
  const uid = 'gone';
  await database.client.db(populated).collection(USERS).insertOne({ _id: uid as never, name: uid, tokens: [], deletedAt: new Date(0) });
  const warnings: string[] = [];
  const log = pino({ level: 'warn' }, { write: (line: string) => warnings.push(line) });
  const opened = openDatabase({ uri: inject('mongoUri'), dbName: populated, archiveRetentionDays: 90, validationCacheEntries: 0, log });
  const users = opened.client.db(populated).collection<UserDoc>(USERS);
  try {
    await opened.prepare();
    await pollUntil('the sweep removes the deleted user', () => users.countDocuments({ _id: uid }), (n) => n === 0, { timeoutMs: 10_000, intervalMs: 50 });
    expect(warnings).toEqual([]);
  } finally {
    await opened.close();
    await database.client.db(populated).dropDatabase();
  }
});
