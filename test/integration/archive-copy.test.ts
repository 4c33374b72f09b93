// The archive copy that follows every revoking write (storage/pending-archive.ts), against a real
// mongod of this file's own: when the copy fails after the user's update has applied (a replica
// dying between the two is the same state), the call still succeeds, the token never validates,
// it is listed as archived at once, and the next write of that user, or the sweep, copies it
// exactly once. The copy is made to fail by mongod's failCommand fail point, for this client only.
import { randomUUID } from 'node:crypto';
import { type Db, MongoClient } from 'mongodb';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { callDeadline } from '../../src/domain/deadline';
import { NO_DEVICE, newToken } from '../../src/domain/auth-tokens';
import { ArchiveReason, type StoredAuthToken } from '../../src/domain/model';
import { ARCHIVED_TOKENS, type ArchivedTokenDoc, USERS, type UserDoc } from '../../src/storage/documents';
import { ensureIndexes, PENDING_INDEX } from '../../src/storage/indexes';
import { MongoTokenStore } from '../../src/storage/mongo-token-store';
import { PendingArchive, sweepPendingArchive } from '../../src/storage/pending-archive';
import { createLogger } from '../../src/observability/logger';
import { MAX_PENDING } from '../../src/storage/token-writes';
import { DomainError, ErrorReason } from '../../src/domain/errors';
import { failCommands, failPointOff } from '../support/fail-points';
import { startTestMongod, type TestMongod } from '../support/mongod';
import { pollUntil } from '../support/poll';

const APP = 'archive-copy-store';
const CAP = 2;
let mongod: TestMongod | undefined;
let client: MongoClient | undefined;
let admin: MongoClient | undefined;
let db: Db;
let store: MongoTokenStore;

beforeAll(async () => {
  mongod = await startTestMongod({ name: 'archive-copy', testCommands: true });
  client = await MongoClient.connect(`${mongod.uri}&appName=${APP}`, { promoteBuffers: true });
  admin = await MongoClient.connect(mongod.uri);
  db = client.db('archive_copy');
  await ensureIndexes(db, 90);
  store = new MongoTokenStore(client, db);
});
afterAll(async () => {
  await client?.close();
  await admin?.close();
  await mongod?.destroy();
});

const forever = () => callDeadline(Infinity);
const issue = (uid: string) => newToken(uid, NO_DEVICE, new Date()).stored;
const atCap = { replaceDeviceId: undefined, maxTokensPerUser: CAP };

/** A user without tokens. */
async function createUser(uid: string, name = uid): Promise<void> {
  const now = new Date();
  await store.createUser({ uid, name, metadata: undefined, createTime: now, updateTime: now }, undefined, forever());
}

/** A user at the cap; resolves with its tokens, oldest first. */
async function userAtCap(uid: string): Promise<StoredAuthToken[]> {
  await createUser(uid);
  const tokens = [];
  for (let i = 0; i < CAP; i++) {
    const token = issue(uid);
    await store.issueToken(token, atCap, new Date(), forever());
    tokens.push(token);
  }
  return tokens;
}

/** Makes this client's next archive insert fail inside mongod (a non-retryable error). */
async function failNextArchiveCopy(): Promise<void> {
  await failCommands(admin!.db('admin'), { commands: ['insert'], appName: APP, blockMs: 0, data: { errorCode: 96 } });
}

async function stored(uid: string) {
  const user = await db.collection<UserDoc>(USERS).findOne({ _id: uid });
  const archived = await db.collection<ArchivedTokenDoc>(ARCHIVED_TOKENS).find({ uid }).toArray();
  return { active: user?.tokens.map((t) => t.id), pending: user?.pending?.map((p) => p._id) ?? [], archived: archived.map((a) => a._id) };
}

test('an eviction whose copy fails succeeds; the token is archived at once, never validates, and the next write copies it once', async () => {
  const uid = `copy-${randomUUID().slice(0, 8)}`;
  const [oldest, second] = await userAtCap(uid);
  await failNextArchiveCopy();
  const third = issue(uid);
  const { result } = await store.issueToken(third, atCap, new Date(), forever());
  expect(result.evictedTokenIds).toEqual([oldest!.tokenId]);

  // The update applied and the copy did not: the evicted token is pending, not active, not copied.
  expect(await stored(uid)).toEqual({ active: [second!.tokenId, third.tokenId], pending: [oldest!.tokenId], archived: [] });
  expect(await store.findActiveToken(uid, oldest!.tokenHash, forever())).toBeUndefined();
  const listed = await store.listArchivedTokens(uid, undefined, 10, 'current', forever());
  expect(listed.map((a) => [a.authToken.tokenId, a.reason])).toEqual([[oldest!.tokenId, ArchiveReason.EVICTED]]);

  // The next write of the user copies it, with its own eviction: each token archived once.
  const fourth = issue(uid);
  await store.issueToken(fourth, atCap, new Date(), forever());
  const after = await stored(uid);
  expect(after.pending).toEqual([]);
  expect(after.archived.sort()).toEqual([oldest!.tokenId, second!.tokenId].sort());
  const again = await store.listArchivedTokens(uid, undefined, 10, 'current', forever());
  expect(again.map((a) => a.authToken.tokenId).sort()).toEqual([oldest!.tokenId, second!.tokenId].sort());
});

test('tokens left pending are copied by the sweep, and a copy repeated is harmless', async () => {
  const uid = `sweep-${randomUUID().slice(0, 8)}`;
  const [oldest] = await userAtCap(uid);
  await failNextArchiveCopy();
  await store.issueToken(issue(uid), atCap, new Date(), forever());
  expect((await stored(uid)).pending).toEqual([oldest!.tokenId]);

  // Not yet due: pending for less than the grace the sweep is given.
  expect((await store.pending.sweep(new Date(Date.now() - 60_000), undefined)).copied).toBe(0);
  const user = await db.collection<UserDoc>(USERS).findOne({ _id: uid });
  const { copied } = await store.pending.sweep(new Date(), undefined);
  expect(copied).toBeGreaterThanOrEqual(1);
  expect((await stored(uid)).pending).toEqual([]);
  expect((await stored(uid)).archived).toEqual([oldest!.tokenId]);

  // A second replica finishing the same pending tokens (read before the first one's copy) archives nothing twice.
  await store.pending.copy(user!);
  expect((await stored(uid)).archived).toEqual([oldest!.tokenId]);
});

test('a user deleted while its copy fails is gone at once, and its uid can be created again straight away', async () => {
  const uid = `deleted-${randomUUID().slice(0, 8)}`;
  const tokens = await userAtCap(uid);
  await failNextArchiveCopy();
  expect((await store.deleteUser(uid, new Date(), forever())).result).toBe(CAP);

  // The document stays, marked deleted, until its tokens are copied: no query sees the user.
  expect(await store.getUser(uid, forever())).toBeUndefined();
  expect(await store.findActiveToken(uid, tokens[0]!.tokenHash, forever())).toBeUndefined();
  const listed = await store.listArchivedTokens(uid, undefined, 10, 'current', forever());
  expect(listed.map((a) => a.reason)).toEqual([ArchiveReason.USER_DELETED, ArchiveReason.USER_DELETED]);

  // Created again: the old user's tokens are copied first, and the new user starts with none.
  await createUser(uid, 'again');
  expect(await stored(uid)).toEqual({ active: [], pending: [], archived: expect.arrayContaining(tokens.map((t) => t.tokenId)) });
  expect(await store.listArchivedTokens(uid, undefined, 10, 'current', forever())).toEqual([]);
  expect(await store.listArchivedTokens(uid, undefined, 10, 'all', forever())).toHaveLength(CAP);
});

test('a late copy by a replica that stalled removes only its own deleted user, never a newer one of the same uid', async () => {
  const uid = `late-${randomUUID().slice(0, 8)}`;
  await userAtCap(uid);
  await failNextArchiveCopy();
  await store.deleteUser(uid, new Date(), forever());
  const first = await db.collection<UserDoc>(USERS).findOne({ _id: uid });
  expect(first!.deletedAt).toBeDefined();

  // The uid is created again (which finishes the first copy), issued a token, and deleted again,
  // with that copy failing too: a second deleted user waits for its copy.
  await createUser(uid, 'second');
  const secondToken = issue(uid);
  await store.issueToken(secondToken, atCap, new Date(), forever());
  await failNextArchiveCopy();
  await store.deleteUser(uid, new Date(), forever());

  // The stalled replica's copy of the first deleted user arrives late: the second stays.
  await store.pending.copy(first!);
  expect((await stored(uid)).pending).toEqual([secondToken.tokenId]);
  await store.pending.finish(uid);
  expect(await db.collection<UserDoc>(USERS).findOne({ _id: uid })).toBeNull();
  expect((await stored(uid)).archived).toContain(secondToken.tokenId);
});

test('a write whose copy is held answers by its deadline, and the copy still happens', async () => {
  const uid = `held-${randomUUID().slice(0, 8)}`;
  const [oldest] = await userAtCap(uid);
  const held = await failCommands(admin!.db('admin'), { commands: ['insert'], appName: APP, blockMs: 1_500 });
  const started = performance.now();
  const { result } = await store.issueToken(issue(uid), atCap, new Date(), callDeadline(Date.now() + 300));
  const elapsedMs = performance.now() - started;
  await held.entered();
  expect(result.evictedTokenIds).toEqual([oldest!.tokenId]);
  expect(elapsedMs).toBeLessThan(1_000);
  await pollUntil('the held copy finishes', () => stored(uid), (s) => s.pending.length === 0, { timeoutMs: 10_000, intervalMs: 50 });
  expect((await stored(uid)).archived).toEqual([oldest!.tokenId]);
});

test('copies running at once are bounded: past the bound, a write leaves its tokens pending for the sweep', async () => {
  const pendingArchive = new PendingArchive(db.collection<UserDoc>(USERS), db.collection<ArchivedTokenDoc>(ARCHIVED_TOKENS), 1);
  const [held, skipped] = [`bound-a-${randomUUID().slice(0, 8)}`, `bound-b-${randomUUID().slice(0, 8)}`];
  for (const uid of [held, skipped]) {
    await userAtCap(uid);
    await failNextArchiveCopy();
    await store.issueToken(issue(uid), atCap, new Date(), forever());
  }
  const documentOf = async (uid: string) => (await db.collection<UserDoc>(USERS).findOne({ _id: uid }))!;
  const hold = await failCommands(admin!.db('admin'), { commands: ['insert'], appName: APP, blockMs: 1_000 });
  const first = pendingArchive.copyIfRoom(await documentOf(held));
  await hold.entered();
  // The one copy allowed is running: the second is not made.
  expect(await pendingArchive.copyIfRoom(await documentOf(skipped))).toBe(false);
  expect(await first).toBe(true);
  expect((await stored(held)).pending).toEqual([]);
  expect((await stored(skipped)).pending).toHaveLength(1);
  // With room again, it is.
  expect(await pendingArchive.copyIfRoom(await documentOf(skipped))).toBe(true);
  expect((await stored(skipped)).pending).toEqual([]);
});

test('a sweep goes on past a user whose copy fails, and copies it on a later pass', async () => {
  const uids = [`sweep-a-${randomUUID().slice(0, 8)}`, `sweep-b-${randomUUID().slice(0, 8)}`].sort();
  for (const uid of uids) {
    await userAtCap(uid);
    await failNextArchiveCopy();
    await store.issueToken(issue(uid), atCap, new Date(), forever());
  }
  // The first user's copy fails once more, in the sweep.
  await failNextArchiveCopy();
  const first = await store.pending.sweep(new Date(), undefined);
  expect(first.failure).toBeDefined();
  expect((await stored(uids[0]!)).pending).toHaveLength(1);
  expect((await stored(uids[1]!)).pending).toEqual([]);
  const second = await store.pending.sweep(new Date(), undefined);
  expect(second.failure).toBeUndefined();
  expect((await stored(uids[0]!)).pending).toEqual([]);
});

test('a user deleted with no tokens, whose document removal fails, is removed by the sweep all the same', async () => {
  const uid = `bare-${randomUUID().slice(0, 8)}`;
  await createUser(uid, 'Bare Name');
  await failCommands(admin!.db('admin'), { commands: ['delete'], appName: APP, blockMs: 0, data: { errorCode: 96 } });
  expect((await store.deleteUser(uid, new Date(), forever())).result).toBe(0);
  const document = () => db.collection<UserDoc>(USERS).findOne({ _id: uid });
  // The removal failed: the document stays, with the user's name, marked deleted and nothing pending.
  expect(await document()).toMatchObject({ name: 'Bare Name', deletedAt: expect.any(Date) });
  expect((await document())!.pending ?? []).toEqual([]);
  expect(await store.getUser(uid, forever())).toBeUndefined();

  // Nothing is pending, so the walk of pending tokens passes it by.
  expect((await store.pending.sweep(new Date(), undefined)).failure).toBeUndefined();
  expect(await document()).not.toBeNull();
  // The walk of deleted users leaves it while it is not yet due (deleted within the grace).
  expect((await store.pending.sweep(new Date(Date.now() - 60_000), undefined, 'deletedUsers')).failure).toBeUndefined();
  expect(await document()).not.toBeNull();
  // A replica's periodic sweep runs both walks: the document goes.
  const sweeping = sweepPendingArchive(store.pending, 20, 0, createLogger('silent'));
  try {
    await pollUntil('the sweep removes the deleted user', document, (doc) => doc === null, { timeoutMs: 10_000, intervalMs: 20 });
  } finally {
    await sweeping.stop();
  }
});

test('one walk of the sweep failing does not stop the other (here the pending walk, its index missing)', async () => {
  const uid = `walks-${randomUUID().slice(0, 8)}`;
  await createUser(uid);
  await failCommands(admin!.db('admin'), { commands: ['delete'], appName: APP, blockMs: 0, data: { errorCode: 96 } });
  await store.deleteUser(uid, new Date(), forever());
  const document = () => db.collection<UserDoc>(USERS).findOne({ _id: uid });
  expect(await document()).not.toBeNull();
  await db.collection(USERS).dropIndex(PENDING_INDEX);
  const sweeping = sweepPendingArchive(store.pending, 20, 0, createLogger('silent'));
  try {
    await expect(store.pending.sweep(new Date(), undefined)).rejects.toThrow();
    await pollUntil('the deleted-users walk removes the user', document, (doc) => doc === null, { timeoutMs: 10_000, intervalMs: 20 });
  } finally {
    await sweeping.stop();
    await ensureIndexes(db, 90);
  }
});

test(`a user with ${MAX_PENDING} tokens waiting for their copy gets UNAVAILABLE for every write that would add one, and nothing changes`, async () => {
  const uid = `backlog-${randomUUID().slice(0, 8)}`;
  const [oldest] = await userAtCap(uid);
  const waiting = Array.from({ length: MAX_PENDING }, (_, i) => ({ _id: `tid_waiting${i}`, uid, archiveTime: new Date(), reason: 'EVICTED', write: 'w', hash: Buffer.alloc(32) }));
  await db.collection<UserDoc>(USERS).updateOne({ _id: uid }, { $set: { pending: waiting as never } });
  const before = await stored(uid);
  const reason = (call: Promise<unknown>) => call.then(() => 'applied', (error: unknown) => (error instanceof DomainError ? error.reason : String(error)));
  const now = new Date();
  expect(await reason(store.issueToken(issue(uid), atCap, now, forever()))).toBe(ErrorReason.SERVICE_UNAVAILABLE);
  expect(await reason(store.deleteToken(uid, { tokenId: oldest!.tokenId }, now, forever()))).toBe(ErrorReason.SERVICE_UNAVAILABLE);
  expect(await reason(store.flushTokens(uid, {}, now, forever()))).toBe(ErrorReason.SERVICE_UNAVAILABLE);
  expect(await reason(store.revokeTokens(uid, [oldest!.tokenHash], now, forever()))).toBe(ErrorReason.SERVICE_UNAVAILABLE);
  expect(await reason(store.deleteUser(uid, now, forever()))).toBe(ErrorReason.SERVICE_UNAVAILABLE);
  expect(await stored(uid)).toEqual(before);
  // An unknown uid is still NOT_FOUND.
  expect(await reason(store.flushTokens(`${uid}-none`, {}, now, forever()))).toBe(ErrorReason.UID_NOT_FOUND);
});

afterAll(async () => {
  if (admin) await failPointOff(admin.db('admin')).catch(() => undefined);
});
