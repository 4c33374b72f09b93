// The per-user cap is exact under real concurrency: several service PROCESSES issue tokens for one
// user at once, against one mongod, and afterwards every issued token is accounted for exactly
// once (active or archived), the active ones are exactly the newest MAX_TOKENS_PER_USER, and every
// archived one says why it was archived.
import { randomUUID } from 'node:crypto';
import { status } from '@grpc/grpc-js';
import { type Db, MongoClient } from 'mongodb';
import { afterAll, beforeAll, expect, inject, test } from 'vitest';
import { type ArchivedTokenDoc, storedOldestFirst, type UserDoc } from '../../src/storage/documents';
import { decodeError } from '../support/grpc-status';
import { type ServerProcess, startServerProcess } from '../support/server-process';

const PROCESSES = 3;
/** Calls in flight per process at any moment. */
const IN_FLIGHT = 16;
const CAP = 100;

let mongo: MongoClient;
let db: Db;
let dbName: string;
const servers: ServerProcess[] = [];

beforeAll(async () => {
  dbName = `conc_${randomUUID().slice(0, 8)}`;
  mongo = await MongoClient.connect(inject('mongoUri'), { promoteBuffers: true });
  db = mongo.db(dbName);
  const env = { MONGODB_URI: inject('mongoUri'), MONGODB_DB: dbName, MAX_TOKENS_PER_USER: String(CAP) };
  // Started one by one: each ensures the same indexes at start-up.
  for (let i = 0; i < PROCESSES; i++) servers.push(await startServerProcess(env));
});

afterAll(async () => {
  await Promise.allSettled(servers.map((s) => s.stop()));
  await db?.dropDatabase().catch(() => undefined);
  await mongo?.close();
});

interface Issued {
  tokenId: string;
  secret: string;
  createTime: Date;
  deviceId: string;
  evicted: string[];
  replaced: string[];
}

/** Runs `work` over `items` with at most `limit` running at once. */
async function pool<T, R>(items: T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await work(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/**
 * Issues one token per request, spread round-robin over the server processes, each process with
 * IN_FLIGHT calls in flight; all processes run at the same time.
 */
async function issueConcurrently(uid: string, deviceIds: string[]): Promise<Issued[]> {
  const perServer = servers.map((_, s) => deviceIds.filter((_, i) => i % servers.length === s));
  const batches = await Promise.all(
    servers.map((server, s) =>
      pool(perServer[s]!, IN_FLIGHT, async (deviceId): Promise<Issued> => {
        const response = await server.tokens.createAuthToken({ uid, deviceId }).catch((error: Error) => {
          throw new Error(`CreateAuthToken failed: ${error.message}\nserver output:\n${server.output()}`);
        });
        const token = response.authToken!;
        return {
          tokenId: token.tokenId,
          secret: token.authToken,
          createTime: token.createTime!,
          deviceId: token.deviceId,
          evicted: response.evictedTokenIds,
          replaced: response.replacedTokenIds,
        };
      }),
    ),
  );
  return batches.flat();
}

async function rawState(uid: string) {
  const user = await db.collection<UserDoc>('users').findOne({ _id: uid });
  const archived = await db.collection<ArchivedTokenDoc>('archived_tokens').find({ uid }).toArray();
  return { active: user!.tokens, archived };
}

/** Every active token through ListAuthTokens, following next_page_token, checking total_size. */
async function listAll(server: ServerProcess, uid: string) {
  const all = [];
  let pageToken = '';
  do {
    const page = await server.tokens.listAuthTokens({ uid, pageSize: 30, pageToken });
    expect(page.totalSize).toBe(CAP);
    all.push(...page.authTokens);
    pageToken = page.nextPageToken;
  } while (pageToken !== '');
  return all;
}

/** Oldest first, as storage orders a user's tokens. */
const oldestFirst = storedOldestFirst;

function ids<T>(items: T[], id: (item: T) => string): string[] {
  return items.map(id).sort();
}

function expectNoDuplicates(values: string[]) {
  expect(new Set(values).size).toBe(values.length);
}

/**
 * Reads the stored state and asserts the partition: exactly CAP active, the rest archived, no
 * duplicates, and every issued token is exactly one of active or archived, nothing else.
 */
async function expectPartition(uid: string, issuedIds: string[]) {
  const { active, archived } = await rawState(uid);
  const activeIds = active.map((t) => t.id);
  const archivedIds = archived.map((a) => a._id);
  expectNoDuplicates(activeIds);
  expect(active).toHaveLength(CAP);
  expect(archived).toHaveLength(issuedIds.length - CAP);
  expect(activeIds.filter((id) => archivedIds.includes(id))).toEqual([]);
  expect([...activeIds, ...archivedIds].sort()).toEqual([...issuedIds].sort());
  return { active, archived, activeIds, archivedIds };
}

async function expectAllValid(tokens: Issued[], uid: string) {
  await pool(tokens, IN_FLIGHT * servers.length, async (t) => {
    const server = servers[tokens.indexOf(t) % servers.length]!;
    const validated = await server.tokens.validateAuthToken({ authToken: t.secret });
    expect(validated.uid).toBe(uid);
    expect(validated.authToken!.tokenId).toBe(t.tokenId);
  });
}

async function expectAllNotFound(tokens: Issued[]) {
  const codes = await pool(tokens, IN_FLIGHT * servers.length, async (t) => {
    const server = servers[tokens.indexOf(t) % servers.length]!;
    try {
      await server.tokens.validateAuthToken({ authToken: t.secret });
      return `${t.tokenId} still validates`;
    } catch (error) {
      const decoded = decodeError(error as Parameters<typeof decodeError>[0]);
      return `${decoded.code === status.NOT_FOUND ? 'NOT_FOUND' : decoded.code} ${decoded.reason}`;
    }
  });
  expect(codes).toEqual(tokens.map(() => 'NOT_FOUND ERR_AUTH_TOKEN_NOT_FOUND'));
}

test(`${PROCESSES} processes issuing 400 tokens for one user at once leave exactly the newest ${CAP} active and the rest archived once`, { timeout: 180_000 }, async () => {
  const uid = 'crowd';
  const total = 400;
  await servers[0]!.users.createUser({ uid, name: 'Crowd' });

  const issued = await issueConcurrently(uid, Array.from({ length: total }, () => ''));
  expect(issued).toHaveLength(total);
  const issuedIds = issued.map((t) => t.tokenId);
  expectNoDuplicates(issuedIds);
  expectNoDuplicates(issued.map((t) => t.secret));

  // Every issued token is exactly one of active or archived, and nothing else is.
  const { active, archived, activeIds, archivedIds } = await expectPartition(uid, issuedIds);

  // Every archived token was evicted, and was reported as evicted by exactly one response.
  expect(archived.map((a) => a.reason)).toEqual(archived.map(() => 'EVICTED'));
  const reportedEvicted = issued.flatMap((t) => t.evicted);
  expectNoDuplicates(reportedEvicted);
  expect([...reportedEvicted].sort()).toEqual([...archivedIds].sort());
  expect(issued.flatMap((t) => t.replaced)).toEqual([]);
  // Without deletions the cap moves one token out per token issued beyond it: never two at once.
  expect(issued.filter((t) => t.evicted.length === 1)).toHaveLength(total - CAP);
  expect(issued.filter((t) => t.evicted.length > 1)).toEqual([]);
  // A response never evicts its own token.
  expect(issued.filter((t) => t.evicted.includes(t.tokenId))).toEqual([]);

  // The active tokens are exactly the newest CAP by create time (token id breaking ties), and
  // stored with the create time their response reported.
  const byId = new Map(issued.map((t) => [t.tokenId, t]));
  const newest = issued
    .map((t) => ({ id: t.tokenId, createTime: t.createTime }))
    .sort(oldestFirst)
    .slice(-CAP)
    .map((t) => t.id);
  expect([...activeIds].sort()).toEqual([...newest].sort());
  expect(active.map((t) => [t.id, t.createTime.getTime()])).toEqual(
    active.map((t) => [t.id, byId.get(t.id)!.createTime.getTime()]),
  );
  // The users document keeps them oldest first, which `$slice: -max` relies on.
  expect(activeIds).toEqual([...active].sort(oldestFirst).map((t) => t.id));

  // The service's own listing agrees: the same CAP tokens, newest first, over several pages.
  const listed = await listAll(servers[1 % servers.length]!, uid);
  expect(listed.map((t) => t.tokenId)).toEqual([...activeIds].reverse());

  // The archive as the service lists it agrees with the raw collection.
  const listedArchive = [];
  let pageToken = '';
  do {
    const page = await servers[2 % servers.length]!.tokens.listArchivedAuthTokens({ uid, pageToken });
    listedArchive.push(...page.archivedAuthTokens);
    pageToken = page.nextPageToken;
  } while (pageToken !== '');
  expect(ids(listedArchive, (a) => a.authToken!.tokenId)).toEqual([...archivedIds].sort());

  // Every active secret validates; every evicted one is refused as not found.
  await expectAllValid(active.map((t) => byId.get(t.id)!), uid);
  await expectAllNotFound(archivedIds.map((id) => byId.get(id)!));
});

test(`${PROCESSES} processes issuing tokens with contended device_id replacement and eviction keep every token accounted for`, { timeout: 180_000 }, async () => {
  const uid = 'devices';
  const total = 300;
  const devices = 4;
  await servers[0]!.users.createUser({ uid, name: 'Devices' });

  // Every third token is for one of four devices (replacing that device's active tokens), the
  // rest have no device_id (only the cap archives them).
  const deviceIds = Array.from({ length: total }, (_, i) => (i % 3 === 0 ? `dev-${(i / 3) % devices}` : ''));
  const issued = await issueConcurrently(uid, deviceIds);
  expect(issued).toHaveLength(total);
  const issuedIds = issued.map((t) => t.tokenId);
  expectNoDuplicates(issuedIds);

  // 200 tokens without a device can only leave through the cap, so the user reached it, and from
  // then on every issue archives exactly one token: the user ends exactly at the cap.
  const { active, archived, archivedIds } = await expectPartition(uid, issuedIds);

  // Each archived token has the reason of the one response that reported it.
  const reportedEvicted = issued.flatMap((t) => t.evicted);
  const reportedReplaced = issued.flatMap((t) => t.replaced);
  expectNoDuplicates([...reportedEvicted, ...reportedReplaced]);
  const reasons = Object.fromEntries(archived.map((a) => [a._id, a.reason]));
  expect(Object.keys(reasons).sort()).toEqual([...reportedEvicted, ...reportedReplaced].sort());
  expect(reportedEvicted.map((id) => reasons[id])).toEqual(reportedEvicted.map(() => 'EVICTED'));
  expect(reportedReplaced.map((id) => reasons[id])).toEqual(reportedReplaced.map(() => 'REPLACED'));

  // Only device tokens are ever replaced, and only by a token of the same device.
  const byId = new Map(issued.map((t) => [t.tokenId, t]));
  for (const t of issued) {
    for (const id of t.replaced) expect(byId.get(id)!.deviceId).toBe(t.deviceId);
    if (t.deviceId === '') expect(t.replaced).toEqual([]);
  }
  // At most one active token per device: a replacement never leaves two behind.
  const activeDevices = active.map((t) => t.deviceId).filter((d) => d !== '');
  expectNoDuplicates(activeDevices);

  // Every evicted token is older than every token still active.
  const oldestActive = [...active].sort(oldestFirst)[0]!;
  const evictedDocs = archived.filter((a) => a.reason === 'EVICTED');
  expect(evictedDocs.filter((a) => oldestFirst({ id: a._id, createTime: a.createTime }, oldestActive) > 0)).toEqual([]);

  await expectAllValid(active.map((t) => byId.get(t.id)!), uid);
  await expectAllNotFound(archivedIds.map((id) => byId.get(id)!));
});
