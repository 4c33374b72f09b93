// Crash safety of eviction: a service process killed between the capped update of the user
// document and the copy of the evicted token to the archive loses nothing, leaves no lock, and the
// token never validates in between. The process is stopped at exactly that point by MongoDB's own
// failCommand fail point (no hook in production code): the archive insert of the victim's
// connection blocks inside the server, after the update has applied, and the process is SIGKILLed
// while it waits. Another replica then creates for the same user at once, and finishes the copy.
//
// This file runs its own mongod, so that the fail point cannot disturb test files sharing the
// global mongod.
import { pollUntil as pollUntilBounded } from '../support/poll';
import { randomUUID } from 'node:crypto';
import { type ServiceError, status } from '@grpc/grpc-js';
import { type Db, type Document, MongoClient } from 'mongodb';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { ArchiveReason } from '../../gen/authtoken/v1/resources';
import type { ArchivedTokenDoc, UserDoc } from '../../src/storage/documents';
import { startTestMongod, type TestMongod } from '../support/mongod';
import { decodeError } from '../support/grpc-status';
import { type ServerProcess, startServerProcess } from '../support/server-process';
import { failCommands, failPointOff } from '../support/fail-points';

const CAP = 5;
const VICTIM_APP = 'crash-victim';
/** Bound on polls of the server's state: only reached if something is broken. */
const POLL_LIMIT_MS = 60_000;
const POLL_INTERVAL_MS = 25;
/** How soon another replica must be able to create for the user after the crash (no lock left behind). */
const CREATE_AFTER_CRASH_MS = 1_000;

let mongod: TestMongod | undefined;
let mongo: MongoClient | undefined;
let admin: Db;
let db: Db;
let victim: ServerProcess | undefined;
let survivor: ServerProcess | undefined;
const dbName = `crash_${randomUUID().slice(0, 8)}`;

beforeAll(async () => {
  mongod = await startTestMongod({ name: 'crash-mongod', testCommands: true });
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

function currentOps(filter: Document): Promise<Document[]> {
  return admin.aggregate([{ $currentOp: { allUsers: true, idleSessions: true } }, { $match: filter }]).toArray();
}

async function pollUntil(what: string, done: () => Promise<boolean>): Promise<void> {
  await pollUntilBounded(what, done, (held) => held, { timeoutMs: POLL_LIMIT_MS, intervalMs: POLL_INTERVAL_MS });
}

async function stored(uid: string) {
  const user = await db.collection<UserDoc>('users').findOne({ _id: uid });
  const archived = await db.collection<ArchivedTokenDoc>('archived_tokens').find({ uid }).sort({ archiveTime: 1, _id: 1 }).toArray();
  return {
    activeIds: user!.tokens.map((t) => t.id),
    pendingIds: (user!.pending ?? []).map((p) => p._id),
    archived: archived.map((a) => ({ id: a._id, reason: a.reason })),
  };
}

interface Issued {
  tokenId: string;
  secret: string;
}

async function expectNotFound(call: Promise<unknown>): Promise<void> {
  const error = decodeError(await call.then(() => { throw new Error('the call succeeded'); }, (e: ServiceError) => e));
  expect([error.code, error.reason]).toEqual([status.NOT_FOUND, 'ERR_AUTH_TOKEN_NOT_FOUND']);
}

test('a process killed between the capped update and the archive copy loses no token, locks nothing, and never lets the token validate', { timeout: 120_000 }, async () => {
  const uid = 'crash';
  const env = { MONGODB_DB: dbName, MAX_TOKENS_PER_USER: String(CAP) };
  victim = await startServerProcess({ ...env, MONGODB_URI: `${mongod!.uri}&appName=${VICTIM_APP}` });
  await victim.users.createUser({ uid, name: 'Crash' });
  const before: Issued[] = [];
  for (let i = 0; i < CAP; i++) {
    const { authToken } = await victim.tokens.createAuthToken({ uid });
    before.push({ tokenId: authToken!.tokenId, secret: authToken!.authToken });
  }
  const beforeIds = before.map((t) => t.tokenId);
  const oldest = before[0]!;
  // Another replica, already running when the victim dies.
  survivor = await startServerProcess({ ...env, MONGODB_URI: mongod!.uri });

  // The next token evicts `oldest`: one update of the user's document, then the archive copy, the
  // only insert on that path. Block that insert in the server, for the victim's connections only.
  const archiveCopy = await failCommands(admin, { commands: ['insert'], appName: VICTIM_APP });
  const interrupted = victim.tokens.createAuthToken({ uid }).then(
    () => undefined,
    (error: ServiceError) => error,
  );
  await archiveCopy.entered();
  const blocked = await currentOps({ appName: VICTIM_APP, 'command.insert': 'archived_tokens' });
  expect(blocked).toHaveLength(1);
  const killedAt = Date.now();
  await victim.kill('SIGKILL');
  expect((await interrupted)?.code).toBe(status.UNAVAILABLE);

  // Right after the crash: the update applied, in no transaction. The evicted token left the active
  // tokens and waits in the document's pending list; nothing is in the archive yet, nothing lost.
  const atCrash = await stored(uid);
  const issuedAtCrash = atCrash.activeIds.at(-1)!;
  expect(atCrash).toEqual({ activeIds: [...beforeIds.slice(1), issuedAtCrash], pendingIds: [oldest.tokenId], archived: [] });
  expect(await currentOps({ transaction: { $exists: true } })).toEqual([]);

  // The other replica: the token does not validate, and it is listed as archived already.
  await expectNotFound(survivor.tokens.validateAuthToken({ authToken: oldest.secret }));
  const listed = await survivor.tokens.listArchivedAuthTokens({ uid });
  expect(listed.archivedAuthTokens.map((a) => [a.authToken!.tokenId, a.reason])).toEqual([[oldest.tokenId, ArchiveReason.ARCHIVE_REASON_EVICTED]]);

  // It creates for the same user at once (no lock left behind), evicting the next oldest, and
  // copies what the victim left pending along with its own.
  const createStarted = Date.now();
  const next = await survivor.tokens.createAuthToken({ uid });
  const createdAfterKillMs = Date.now() - killedAt;
  console.info(`[crash] the survivor's CreateAuthToken took ${Date.now() - createStarted} ms and succeeded ${createdAfterKillMs} ms after SIGKILL`);
  expect(createdAfterKillMs).toBeLessThan(CREATE_AFTER_CRASH_MS);
  expect(next.evictedTokenIds).toEqual([before[1]!.tokenId]);

  // The victim's blocked insert, released, archives nothing twice.
  await admin.command({ killOp: 1, op: blocked[0]!.opid });
  await pollUntil('the blocked insert ends', async () => (await currentOps({ opid: blocked[0]!.opid })).length === 0);
  const after = await stored(uid);
  expect(after.pendingIds).toEqual([]);
  expect(after.activeIds).toEqual([...beforeIds.slice(2), issuedAtCrash, next.authToken!.tokenId]);
  expect(after.archived).toEqual([
    { id: oldest.tokenId, reason: 'EVICTED' },
    { id: before[1]!.tokenId, reason: 'EVICTED' },
  ]);
  await expectNotFound(survivor.tokens.validateAuthToken({ authToken: before[1]!.secret }));
  for (const t of before.slice(2)) {
    expect((await survivor.tokens.validateAuthToken({ authToken: t.secret })).authToken!.tokenId).toBe(t.tokenId);
  }
});
