// Crash safety of eviction: a service process killed between the capped update of the user
// document and the archive write loses no token. The process is stopped at exactly that point by
// MongoDB's own failCommand fail point (no hook in production code): the archive insert of the
// victim's connection blocks inside the server, after the capped update has been applied inside
// the transaction, and the process is SIGKILLed while it waits.
//
// This file runs its own mongod, with a short transactionLifetimeLimitSeconds, so that the
// orphaned transaction is aborted by the server within seconds, and so that the fail point and
// the orphan cannot disturb test files sharing the global mongod.
import { pollUntil as pollUntilBounded } from '../support/poll';
import { randomUUID } from 'node:crypto';
import { type ServiceError, status } from '@grpc/grpc-js';
import { type Db, type Document, MongoClient } from 'mongodb';
import { afterAll, beforeAll, expect, test } from 'vitest';
import type { CreateAuthTokenResponse } from '../../gen/authtoken/v1/auth_token_service';
import { ArchiveReason } from '../../gen/authtoken/v1/resources';
import type { ArchivedTokenDoc, UserDoc } from '../../src/storage/documents';
import { startTestMongod, type TestMongod } from '../support/mongod';
import { decodeError } from '../support/grpc-status';
import { type ServerProcess, startServerProcess } from '../support/server-process';
import { failCommands, failPointOff } from '../support/fail-points';

const CAP = 5;
const VICTIM_APP = 'crash-victim';
const TRANSACTION_LIFETIME_SECONDS = 5;
/** Bound on polls of the server's state: only reached if something is broken. */
const POLL_LIMIT_MS = 60_000;
const POLL_INTERVAL_MS = 25;

let mongod: TestMongod | undefined;
let mongo: MongoClient | undefined;
let admin: Db;
let db: Db;
let victim: ServerProcess | undefined;
let survivor: ServerProcess | undefined;
const dbName = `crash_${randomUUID().slice(0, 8)}`;

beforeAll(async () => {
  mongod = await startTestMongod({
    name: 'crash-mongod',
    testCommands: true,
    parameters: { transactionLifetimeLimitSeconds: TRANSACTION_LIFETIME_SECONDS },
  });
  mongo = await MongoClient.connect(mongod.uri);
  admin = mongo.db('admin');
  db = mongo.db(dbName);
});

afterAll(async () => {
  if (mongo) {
    // A still-blocked insert would hold up mongod's shutdown for the rest of its block time, and
    // turning the fail point off waits for every thread inside it: release the insert first.
    for (const op of await currentOps({ appName: VICTIM_APP, active: true }).catch(() => [])) {
      await admin.command({ killOp: 1, op: op.opid }).catch(() => undefined);
    }
    await failPointOff(admin).catch(() => undefined);
  }
  await Promise.allSettled([victim?.stop(), survivor?.stop()]);
  await mongo?.close();
  await mongod?.destroy();
});

/** Operations and idle sessions (with their open transactions) matching `filter`. */
function currentOps(filter: Document): Promise<Document[]> {
  return admin
    .aggregate([{ $currentOp: { allUsers: true, idleSessions: true } }, { $match: filter }])
    .toArray();
}

/** Polls `done` until it holds (the shared bounded poll). */
async function pollUntil(what: string, done: () => Promise<boolean>): Promise<void> {
  await pollUntilBounded(what, done, (held) => held, { timeoutMs: POLL_LIMIT_MS, intervalMs: POLL_INTERVAL_MS });
}

async function stored(uid: string) {
  const user = await db.collection<UserDoc>('users').findOne({ _id: uid });
  const archived = await db.collection<ArchivedTokenDoc>('archived_tokens').find({ uid }).toArray();
  return { activeIds: user!.tokens.map((t) => t.id), archived };
}

/** A token issued before the crash: its public id and its secret. */
interface Issued {
  tokenId: string;
  secret: string;
}

/** Where the victim was killed: its blocked archive insert, and the transaction that insert was part of. */
interface Crash {
  opid: unknown;
  command: Document;
  /** $currentOp filter for the victim session's open transaction. */
  openTransaction: Document;
  transactionsAtKill: Document[];
  killedAt: number;
}

test('a process killed between the capped update and the archive write loses no token', { timeout: 120_000 }, async () => {
  const uid = 'crash';
  const env = { MONGODB_DB: dbName, MAX_TOKENS_PER_USER: String(CAP) };
  victim = await startServerProcess({ ...env, MONGODB_URI: `${mongod!.uri}&appName=${VICTIM_APP}` });
  const before = await fillToTheCap(victim, uid);
  const beforeIds = before.map((t) => t.tokenId);
  const oldest = before[0]!;

  const crash = await killDuringTheArchiveInsert(victim, uid);
  await expectNothingLostAtTheCrash(uid, beforeIds, crash);

  // A fresh process (another replica: no fail point applies to it) serves the user.
  survivor = await startServerProcess({ ...env, MONGODB_URI: mongod!.uri });
  const next = await evictTheOldestOnTheSurvivor(survivor, uid, oldest, crash);
  await releaseTheBlockedInsert(crash.opid);
  await expectOnlyTheOldestArchived(uid, beforeIds, oldest, next);
  await expectTheServiceAgrees(survivor, uid, before, oldest, next);
});

// The steps of the crash test, in the order it takes them.

/** A user exactly at the cap, each token validated once; resolves with the tokens, oldest first. */
async function fillToTheCap(victim: ServerProcess, uid: string): Promise<Issued[]> {
  // A user exactly at the cap. (CreateUser is an insert too: it must happen before the fail point.)
  await victim.users.createUser({ uid, name: 'Crash' });
  const before = [];
  for (let i = 0; i < CAP; i++) {
    const response = await victim.tokens.createAuthToken({ uid });
    expect(response.evictedTokenIds).toEqual([]);
    before.push({ tokenId: response.authToken!.tokenId, secret: response.authToken!.authToken });
  }
  const beforeIds = before.map((t) => t.tokenId);
  expect(await stored(uid)).toEqual({ activeIds: beforeIds, archived: [] });
  // Validated once now, so that validating again within the minute records nothing: after the
  // crash that validation is a pure read, which the orphaned transaction cannot hold up.
  for (const t of before) {
    expect((await victim.tokens.validateAuthToken({ authToken: t.secret })).authToken!.tokenId).toBe(t.tokenId);
  }
  return before;
}

/** Starts the next token's call on the victim and SIGKILLs the victim while its archive insert is blocked. */
async function killDuringTheArchiveInsert(victim: ServerProcess, uid: string): Promise<Crash> {
  // The next token evicts `oldest`: a transaction that reads the user, pushes with $slice, and
  // then inserts into archived_tokens, the only insert on that path. Block that insert in the
  // server, for the victim's connections only.
  const archiveInsert = await failCommands(admin, { commands: ['insert'], appName: VICTIM_APP });
  const interrupted = victim.tokens.createAuthToken({ uid }).then(
    () => undefined,
    (error: ServiceError) => error,
  );
  // Deterministic: the server answers once the fail point has been entered, i.e. the insert is blocked.
  await archiveInsert.entered();

  // The blocked operation is the victim's archive insert.
  const blocked = await currentOps({ appName: VICTIM_APP, 'command.insert': 'archived_tokens' });
  expect(blocked).toHaveLength(1);
  const { opid, lsid, command } = blocked[0]!;
  // Its session's open transaction, if any (checked after the crash, with the contract first).
  const openTransaction = { 'lsid.id': lsid.id, transaction: { $exists: true } };
  const transactionsAtKill = await currentOps(openTransaction);

  const killedAt = Date.now();
  await victim.kill('SIGKILL');
  const failure = await interrupted;
  expect(failure?.code).toBe(status.UNAVAILABLE);
  return { opid, command, openTransaction, transactionsAtKill, killedAt };
}

async function expectNothingLostAtTheCrash(uid: string, beforeIds: string[], { command, transactionsAtKill }: Crash): Promise<void> {
  // Right after the crash: the committed state is the state before the interrupted call.
  // Nothing is missing from the users document, nothing is half-written to the archive, and the
  // interrupted token was never added.
  const afterCrash = await stored(uid);
  const lost = beforeIds.filter((id) => !afterCrash.activeIds.includes(id) && !afterCrash.archived.some((a) => a._id === id));
  expect(lost, 'tokens neither active nor archived after the crash').toEqual([]);
  expect(afterCrash).toEqual({ activeIds: beforeIds, archived: [] });

  // The crash really hit the point in question: the insert was part of a transaction still open
  // on the victim's session, so the capped update sent before it was applied but uncommitted.
  expect(command.autocommit).toBe(false);
  expect(transactionsAtKill.map((op) => [op.type, op.transaction.parameters.txnNumber])).toEqual([
    ['idleSession', command.txnNumber],
  ]);
}

/** The survivor still has the oldest token, and its next token evicts exactly that one. */
async function evictTheOldestOnTheSurvivor(
  survivor: ServerProcess,
  uid: string,
  oldest: Issued,
  { openTransaction, killedAt }: Crash,
): Promise<CreateAuthTokenResponse> {
  const orphanAborted = pollUntil('the server aborts the orphaned transaction', async () =>
    (await currentOps(openTransaction)).length === 0,
  ).then(() => Date.now() - killedAt);

  // The token the interrupted call would have evicted is still active.
  const validated = await survivor.tokens.validateAuthToken({ authToken: oldest.secret });
  expect(validated.authToken!.tokenId).toBe(oldest.tokenId);

  // The next token evicts exactly that oldest token, into the archive. Until the server has
  // aborted the orphan, the create's transaction conflicts with it and is retried; it must
  // neither fail nor skip the eviction.
  const orphanAliveAtCreate = (await currentOps(openTransaction)).length === 1;
  const createStarted = Date.now();
  const next = await survivor.tokens.createAuthToken({ uid });
  const createMs = Date.now() - createStarted;
  const abortedAfterMs = await orphanAborted;
  console.info(
    `orphaned transaction aborted by the server ${abortedAfterMs} ms after SIGKILL ` +
      `(transactionLifetimeLimitSeconds=${TRANSACTION_LIFETIME_SECONDS}); the survivor's CreateAuthToken ` +
      `started ${createStarted - killedAt} ms after SIGKILL, ${orphanAliveAtCreate ? 'with' : 'without'} ` +
      `the orphan still open, and took ${createMs} ms`,
  );
  expect(next.evictedTokenIds).toEqual([oldest.tokenId]);
  expect(next.replacedTokenIds).toEqual([]);
  return next;
}

async function releaseTheBlockedInsert(opid: unknown): Promise<void> {
  // Release the victim's blocked insert: it belongs to an aborted transaction and must write nothing.
  await admin.command({ killOp: 1, op: opid });
  await pollUntil('the blocked insert ends', async () => (await currentOps({ opid })).length === 0);
}

async function expectOnlyTheOldestArchived(uid: string, beforeIds: string[], oldest: Issued, next: CreateAuthTokenResponse): Promise<void> {
  const after = await stored(uid);
  expect(after.activeIds).toEqual([...beforeIds.slice(1), next.authToken!.tokenId]);
  expect(after.archived.map((a) => ({ id: a._id, uid: a.uid, reason: a.reason }))).toEqual([
    { id: oldest.tokenId, uid, reason: 'EVICTED' },
  ]);
  expect(await db.collection('archived_tokens').countDocuments()).toBe(1);
}

async function expectTheServiceAgrees(
  survivor: ServerProcess,
  uid: string,
  before: Issued[],
  oldest: Issued,
  next: CreateAuthTokenResponse,
): Promise<void> {
  // And the service agrees: the evicted token no longer validates, the others and the new one do.
  const refused = decodeError(
    await survivor.tokens.validateAuthToken({ authToken: oldest.secret }).then(
      () => {
        throw new Error('the evicted token still validates');
      },
      (error: ServiceError) => error,
    ),
  );
  expect([refused.code, refused.reason]).toEqual([status.NOT_FOUND, 'ERR_AUTH_TOKEN_NOT_FOUND']);
  for (const t of [...before.slice(1), { tokenId: next.authToken!.tokenId, secret: next.authToken!.authToken }]) {
    expect((await survivor.tokens.validateAuthToken({ authToken: t.secret })).authToken!.tokenId).toBe(t.tokenId);
  }
  const archivedList = await survivor.tokens.listArchivedAuthTokens({ uid });
  expect(archivedList.archivedAuthTokens.map((a) => [a.authToken!.tokenId, a.reason])).toEqual([[oldest.tokenId, ArchiveReason.ARCHIVE_REASON_EVICTED]]);
}
