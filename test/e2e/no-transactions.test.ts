// No transaction on any token path, read from the oplog itself: 200 concurrent creates at the cap
// (each one evicts), then a delete, a flush, a leak revocation and a user deletion. A transaction
// is recorded in the oplog as one applyOps entry holding its writes (or as a prepare/commit pair);
// a single-document update as one update entry of its own. The oplog must show the second only,
// and every evicted token inserted into the archive exactly once.
import { type Document, MongoClient, type Timestamp } from 'mongodb';
import { afterAll, beforeAll, expect, inject, test } from 'vitest';
import { startTestService, type TestService } from '../support/service';
import { issueMany } from './helpers';

const CAP = 5;
const CREATES = 200;
const AT_ONCE = 8;
const UID = 'no-txn';

let svc: TestService;
let mongo: MongoClient;

beforeAll(async () => {
  svc = await startTestService({ MAX_TOKENS_PER_USER: String(CAP) });
  mongo = await MongoClient.connect(inject('mongoUri'));
});
afterAll(async () => {
  await mongo?.close();
  await svc?.stop();
});

async function lastOplogTime(): Promise<Timestamp> {
  const [last] = await mongo.db('local').collection('oplog.rs').find({}).sort({ $natural: -1 }).limit(1).toArray();
  return last!.ts as Timestamp;
}

test(`${CREATES} creates at the cap, a delete, a flush, a revocation and a user deletion write no transaction`, { timeout: 60_000 }, async () => {
  await svc.users.createUser({ uid: UID, name: 'No transaction' });
  const first = await issueMany(svc, UID, CAP);
  const since = await lastOplogTime();

  let next = 0;
  const evicted: string[] = [];
  const worker = async () => {
    while (next < CREATES) {
      next++;
      evicted.push(...(await svc.tokens.createAuthToken({ uid: UID })).evictedTokenIds);
    }
  };
  await Promise.all(Array.from({ length: AT_ONCE }, worker));
  expect(evicted).toHaveLength(CREATES);
  const active = await svc.tokens.listAuthTokens({ uid: UID });
  await svc.tokens.deleteAuthToken({ uid: UID, authToken: active.authTokens[0]!.tokenId });
  await svc.tokens.flushAuthTokens({ uid: UID, exceptAuthToken: active.authTokens[1]!.tokenId });
  await svc.users.createUser({ uid: `${UID}-leak`, name: 'Leak', withAuthToken: true });
  const leaked = await svc.tokens.createAuthToken({ uid: `${UID}-leak` });
  await svc.tokens.revokeAuthTokens({ authTokens: [leaked.authToken!.authToken] });
  await svc.users.deleteUser({ uid: UID });

  const ours = new RegExp(`^${svc.dbName}\\.`);
  const entries: Document[] = await mongo
    .db('local')
    .collection('oplog.rs')
    .find({ ts: { $gt: since }, $or: [{ ns: ours }, { 'o.applyOps.ns': ours }, { op: 'c' }] })
    .toArray();
  const transactions = entries.filter(
    (e) =>
      e.o?.applyOps?.some?.((inner: Document) => ours.test(inner.ns)) ||
      ((e.o?.commitTransaction !== undefined || e.o?.abortTransaction !== undefined || e.prepare === true) && e.lsid !== undefined),
  );
  expect(transactions, JSON.stringify(transactions.slice(0, 2))).toEqual([]);

  // What was written instead: one update of the user per create, and each evicted token inserted
  // into the archive once (plus the delete's, the flush's, the leak's and the user deletion's).
  const userUpdates = entries.filter((e) => e.ns === `${svc.dbName}.users` && e.op === 'u' && e.o2?._id === UID);
  expect(userUpdates.length).toBeGreaterThanOrEqual(CREATES);
  const archived = entries.filter((e) => e.ns === `${svc.dbName}.archived_tokens` && e.op === 'i').map((e) => e.o._id as string);
  expect(new Set(archived).size).toBe(archived.length);
  expect(archived).toEqual(expect.arrayContaining([...evicted, ...first.map((t) => t.tokenId)]));
  expect(archived).toHaveLength(CREATES + CAP + 1);
});
