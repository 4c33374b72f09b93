// A transaction that finds the database gone halfway through answers UNAVAILABLE after one server
// selection timeout, not two: the driver's abort of that transaction, which waits out a second
// one, finishes in the background. Nothing of the transaction is applied.
//
// The fault is injected at the real driver: mongod (this file's own) is stopped just before the
// transaction's third statement, the archive insert of an eviction, is sent; or just before its
// commit.
import { ClientSession, Collection } from 'mongodb';
import { afterAll, beforeAll, expect, test, vi } from 'vitest';
import { callDeadline } from '../../src/domain/deadline';
import { NO_DEVICE, newToken } from '../../src/domain/auth-tokens';
import { DomainError, ErrorReason } from '../../src/domain/errors';
import { createLogger } from '../../src/observability/logger';
import { type Database, openDatabase, SERVER_SELECTION_TIMEOUT_MS } from '../../src/storage/database';
import { ARCHIVED_TOKENS, USERS } from '../../src/storage/documents';
import { failCommands, failPointOff } from '../support/fail-points';
import { startTestMongod, type TestMongod } from '../support/mongod';

const UID = 'txn-outage';
const APP = 'txn-outage-store';
let mongod: TestMongod | undefined;
let database: Database | undefined;

beforeAll(async () => {
  mongod = await startTestMongod({ name: 'txn-outage', testCommands: true });
  database = openDatabase({ uri: `${mongod.uri}&appName=${APP}`, dbName: 'txn_outage', archiveRetentionDays: 90, validationCacheEntries: 0, log: createLogger('silent') });
  await database.prepare();
});
afterAll(async () => {
  vi.restoreAllMocks();
  await database?.close();
  await mongod?.destroy();
});

test('a transaction cut off by an outage fails fast with UNAVAILABLE and applies nothing', async () => {
  const store = database!.store;
  const now = new Date();
  const first = newToken(UID, NO_DEVICE, now);
  await store.createUser({ uid: UID, name: UID, metadata: undefined, createTime: now, updateTime: now }, first.stored, callDeadline(Infinity));

  // At a cap of 1 the next token evicts the first: find, update, then the archive insert.
  const insertMany = Collection.prototype.insertMany;
  vi.spyOn(Collection.prototype, 'insertMany').mockImplementationOnce(async function (this: Collection, ...args) {
    await mongod!.stop();
    return insertMany.apply(this, args as Parameters<typeof insertMany>) as never;
  });
  const started = performance.now();
  const outcome = await store
    .issueToken(newToken(UID, NO_DEVICE, new Date()).stored, { replaceDeviceId: undefined, maxTokensPerUser: 1 }, new Date(), callDeadline(Infinity))
    .then(() => 'applied', (error: unknown) => (error instanceof DomainError ? error.reason : String(error)));
  const elapsedMs = performance.now() - started;

  expect(outcome).toBe(ErrorReason.SERVICE_UNAVAILABLE);
  // One server selection timeout (the insert's), plus a margin; the abort would add another.
  expect(elapsedMs).toBeGreaterThanOrEqual(SERVER_SELECTION_TIMEOUT_MS - 100);
  expect(elapsedMs).toBeLessThan(SERVER_SELECTION_TIMEOUT_MS * 1.5);

  // Back up on the same data: the user still holds its first token and nothing was archived.
  await mongod!.restart();
  const db = database!.client.db('txn_outage');
  const user = await db.collection(USERS).findOne({ _id: UID } as never);
  expect(user?.tokens.map((t: { id: string }) => t.id)).toEqual([first.stored.tokenId]);
  expect(await db.collection(ARCHIVED_TOKENS).countDocuments({})).toBe(0);
});

test('an outage at the commit is answered UNAVAILABLE after one server selection timeout, well before the deadline', async () => {
  const store = database!.store;
  const uid = `${UID}-commit`;
  const now = new Date();
  const first = newToken(uid, NO_DEVICE, now);
  await store.createUser({ uid, name: uid, metadata: undefined, createTime: now, updateTime: now }, first.stored, callDeadline(Infinity));

  const commitTransaction = ClientSession.prototype.commitTransaction;
  vi.spyOn(ClientSession.prototype, 'commitTransaction').mockImplementationOnce(async function (this: ClientSession) {
    await mongod!.stop();
    return commitTransaction.apply(this) as never;
  });
  const deadlineMs = SERVER_SELECTION_TIMEOUT_MS * 4;
  const started = performance.now();
  const outcome = await store
    .issueToken(newToken(uid, NO_DEVICE, new Date()).stored, { replaceDeviceId: undefined, maxTokensPerUser: 1 }, new Date(), callDeadline(Date.now() + deadlineMs))
    .then(() => 'applied', (error: unknown) => (error instanceof DomainError ? error.reason : String(error)));
  const elapsedMs = performance.now() - started;

  expect(outcome).toBe(ErrorReason.SERVICE_UNAVAILABLE);
  expect(elapsedMs).toBeLessThan(SERVER_SELECTION_TIMEOUT_MS * 1.5);

  // The commit never reached mongod: back up, the user still holds its first token only.
  await mongod!.restart();
  const db = database!.client.db('txn_outage');
  const user = await db.collection(USERS).findOne({ _id: uid } as never);
  expect(user?.tokens.map((t: { id: string }) => t.id)).toEqual([first.stored.tokenId]);
});

test('a node shutting down (ShutdownInProgress, "transient") is answered UNAVAILABLE at once, not rerun until the deadline', async () => {
  const store = database!.store;
  const uid = `${UID}-quiesce`;
  const now = new Date();
  const first = newToken(uid, NO_DEVICE, now);
  await store.createUser({ uid, name: uid, metadata: undefined, createTime: now, updateTime: now }, first.stored, callDeadline(Infinity));

  // As a SIGTERM'd mongod answers while it quiesces: every find fails at once, labelled transient.
  const admin = database!.client.db('admin');
  await failCommands(admin, {
    commands: ['find'],
    appName: APP,
    times: 10_000,
    data: { blockConnection: false, errorCode: 91, errorLabels: ['TransientTransactionError'] },
  });
  const deadlineMs = 4_000;
  const started = performance.now();
  const outcome = await store
    .issueToken(newToken(uid, NO_DEVICE, new Date()).stored, { replaceDeviceId: undefined, maxTokensPerUser: 1 }, new Date(), callDeadline(Date.now() + deadlineMs))
    .then(() => 'applied', (error: unknown) => (error instanceof DomainError ? error.reason : String(error)))
    .finally(() => failPointOff(admin));
  const elapsedMs = performance.now() - started;

  expect(outcome).toBe(ErrorReason.SERVICE_UNAVAILABLE);
  expect(elapsedMs).toBeLessThan(1_000);
});
