// The per-user cap under real concurrency, at scale: 10,000 CreateAuthToken calls for ONE uid,
// spread over 4 service processes sharing one mongod, with many calls in flight on each.
//
// While the load runs, every response that evicts tokens is followed at once by a
// ValidateAuthToken of each evicted secret through a DIFFERENT process, which must answer
// NOT_FOUND: an eviction, once acknowledged to a client, holds everywhere, give or take the window
// in which another replica's validation cache has not yet processed the change (README,
// Operations: milliseconds, and never more than the cache's fail-safe, STALE_AFTER_MS). Randomly
// chosen recent tokens are validated too (through yet another process): a validation may accept
// a token only if no eviction of it had been acknowledged before it was sent, within that window.
// Accepts within the window are counted, printed, and must stay rare (at most 1% of the checks).
//
// Afterwards, exactly: 100 active; the issued tokens are the active ones plus the archived ones,
// disjointly and with no duplicates; every archived token is EVICTED and was reported as evicted by
// exactly one response; the active ones are the newest 100.
import { randomUUID } from 'node:crypto';
import { type Db, MongoClient } from 'mongodb';
import { afterAll, beforeAll, expect, inject, test } from 'vitest';
import { STALE_AFTER_MS } from '../../src/storage/cache/validation-cache';
import { type ServerProcess, startServerProcess } from '../support/server-process';
import {
  type Clients,
  connect,
  duplicates,
  faultsSeed,
  oldestFirst,
  outcomeName,
  percentile,
  pool,
  seededRandom,
  since,
  stateViolations,
  storedState,
  tally,
} from './helpers';

const PROCESSES = 4;
const TOTAL = 10_000;
const CAP = 100;
/** CreateAuthToken calls in flight per process at any moment (each followed by its validations). */
const IN_FLIGHT_PER_PROCESS = 3;
/** Generous: no call may fail in this test; a deadline only turns a hang into a failure. */
const CALL_TIMEOUT_MS = 60_000;
/** Sampled validations pick among this many most recently acknowledged tokens (near the cap's edge). */
const SAMPLE_WINDOW = 130;
/** A sampled validation follows every SAMPLE_EVERY-th create. */
const SAMPLE_EVERY = 2;
const UID = 'crowd10k';
/** How long after an acknowledged eviction another replica may still accept the token (README, Operations). */
const REPLICA_WINDOW_MS = STALE_AFTER_MS;

let mongo: MongoClient | undefined;
let db: Db;
const dbName = `faults_conc_${randomUUID().slice(0, 8)}`;
const servers: ServerProcess[] = [];
const clients: Clients[] = [];

beforeAll(async () => {
  mongo = await MongoClient.connect(inject('mongoUri'), { promoteBuffers: true });
  db = mongo.db(dbName);
  const env = { MONGODB_URI: inject('mongoUri'), MONGODB_DB: dbName, MAX_TOKENS_PER_USER: String(CAP) };
  // One by one: each ensures the same indexes at start-up.
  for (let i = 0; i < PROCESSES; i++) {
    const server = await startServerProcess(env);
    servers.push(server);
    clients.push(connect(server.port));
  }
});

afterAll(async () => {
  for (const c of clients) c.close();
  await Promise.allSettled(servers.map((s) => s.stop()));
  await db?.dropDatabase().catch(() => undefined);
  await mongo?.close();
});

interface Issued {
  secret: string;
  createTime: Date;
  /** The process that issued it. */
  server: number;
  /** performance.now() when the response arrived. */
  ackAt: number;
  evicted: string[];
  replaced: string[];
}

interface Validation {
  kind: 'evicted' | 'sample';
  tokenId: string;
  server: number;
  sentAt: number;
  doneAt: number;
  result: string;
}

/** What the load has seen so far, shared by its workers and read by the checks after it. */
interface Load {
  /** Draws the sampled validations (seeded). */
  random: () => number;
  issued: Map<string, Issued>;
  /** Token ids in the order their create responses arrived. */
  ackOrder: string[];
  /** When the (first) response reporting a token as evicted arrived. */
  evictionAckAt: Map<string, number>;
  /** Reported evicted before the response that issued them arrived: checked when it does. */
  evictedBeforeKnown: Map<string, number>;
  validations: Validation[];
  violations: string[];
  unexpected: string[];
  createLatencies: number[];
  evictedChecks: number;
  /** Validations accepted within REPLICA_WINDOW_MS after the token's eviction was acknowledged. */
  acceptedInWindow: string[];
  started: number;
}

test(`${TOTAL} concurrent CreateAuthToken calls for one uid over ${PROCESSES} processes keep exactly ${CAP} active and account for every token`, async () => {
  const seed = faultsSeed(10_000);
  const random = seededRandom(seed);
  const created = await clients[0]!.users.createUser({ uid: UID, name: 'Crowd of ten thousand' }, CALL_TIMEOUT_MS);
  expect(outcomeName(created)).toBe('OK');

  const load = newLoad(random);
  const loadMs = await runTheLoad(load);
  printTheLoad(seed, load, loadMs);

  expectNothingContradictedAnEviction(load);
  const { activeIds, archivedIds } = await expectTheStoredStateExactly(load);
  expectEveryEvictionReportedOnce(load, archivedIds);
  expectTheNewestActive(load, activeIds);
  expectSampledRefusalsArchived(load, archivedIds);
  await expectTheServiceAgrees(load, activeIds);
});

// The phases of the test, in the order it takes them.

function newLoad(random: () => number): Load {
  return {
    random,
    issued: new Map(),
    ackOrder: [],
    evictionAckAt: new Map(),
    evictedBeforeKnown: new Map(),
    validations: [],
    violations: [],
    unexpected: [],
    createLatencies: [],
    evictedChecks: 0,
    acceptedInWindow: [],
    started: 0,
  };
}

const other = (server: number, offset: number) => (server + offset) % PROCESSES;

/** All TOTAL creates, IN_FLIGHT_PER_PROCESS at a time on each process; resolves with how long it took. */
async function runTheLoad(load: Load): Promise<number> {
  const loadStarted = performance.now();
  await Promise.all(
    Array.from({ length: PROCESSES * IN_FLIGHT_PER_PROCESS }, (_, w) => worker(load, w % PROCESSES)),
  );
  return since(loadStarted);
}

/** Creates through `server` until TOTAL have started, each followed by its validations elsewhere. */
async function worker(load: Load, server: number): Promise<void> {
  const { issued, ackOrder, evictionAckAt, evictedBeforeKnown, violations } = load;
  while (load.started < TOTAL) {
    load.started++;
    const outcome = await clients[server]!.tokens.createAuthToken({ uid: UID }, CALL_TIMEOUT_MS);
    if (!outcome.ok) {
      load.unexpected.push(`CreateAuthToken through process ${server}: ${outcomeName(outcome)} ${outcome.details}`);
      continue;
    }
    load.createLatencies.push(outcome.doneAt - outcome.sentAt);
    const { authToken, evictedTokenIds, replacedTokenIds } = outcome.response;
    const tokenId = authToken!.tokenId;
    if (issued.has(tokenId)) violations.push(`token id ${tokenId} issued twice`);
    issued.set(tokenId, {
      secret: authToken!.authToken,
      createTime: authToken!.createTime!,
      server,
      ackAt: outcome.doneAt,
      evicted: evictedTokenIds,
      replaced: replacedTokenIds,
    });
    ackOrder.push(tokenId);

    const checks: Promise<void>[] = [];
    for (const id of evictedTokenIds) {
      if (evictionAckAt.has(id)) violations.push(`${id} reported evicted by two responses`);
      else evictionAckAt.set(id, outcome.doneAt);
      if (issued.has(id)) checks.push(validate(load, 'evicted', id, other(server, 1)));
      else evictedBeforeKnown.set(id, outcome.doneAt);
    }
    if (evictedBeforeKnown.has(tokenId)) checks.push(validate(load, 'evicted', tokenId, other(server, 1)));
    if (ackOrder.length % SAMPLE_EVERY === 0) {
      const window = ackOrder.slice(-SAMPLE_WINDOW);
      checks.push(validate(load, 'sample', window[Math.floor(load.random() * window.length)]!, other(server, 2)));
    }
    await Promise.all(checks);
  }
}

async function validate(load: Load, kind: Validation['kind'], tokenId: string, server: number): Promise<void> {
  const token = load.issued.get(tokenId)!;
  const outcome = await clients[server]!.tokens.validateAuthToken({ authToken: token.secret }, CALL_TIMEOUT_MS);
  const v: Validation = { kind, tokenId, server, sentAt: outcome.sentAt, doneAt: outcome.doneAt, result: outcomeName(outcome) };
  load.validations.push(v);
  if (outcome.ok) {
    if (outcome.response.uid !== UID || outcome.response.authToken?.tokenId !== tokenId) {
      load.violations.push(`validation of ${tokenId} answered for ${outcome.response.uid}/${outcome.response.authToken?.tokenId}`);
    }
    const evictedAt = load.evictionAckAt.get(tokenId);
    if (evictedAt !== undefined && evictedAt < outcome.sentAt) {
      const accepted =
        `${kind} validation of ${tokenId} through process ${server} ACCEPTED it, sent ` +
        `${Math.round(outcome.sentAt - evictedAt)} ms after its eviction had been acknowledged`;
      if (outcome.sentAt - evictedAt > REPLICA_WINDOW_MS) load.violations.push(accepted);
      else {
        load.acceptedInWindow.push(accepted);
        if (kind === 'evicted') load.evictedChecks++;
      }
    }
  } else if (v.result !== 'NOT_FOUND ERR_AUTH_TOKEN_NOT_FOUND') {
    load.unexpected.push(`${kind} validation of ${tokenId} through process ${server}: ${v.result} ${outcome.ok ? '' : outcome.details}`);
  } else if (kind === 'evicted') {
    load.evictedChecks++;
  }
}

function sampledValidations(load: Load): Validation[] {
  return load.validations.filter((v) => v.kind === 'sample');
}

function printTheLoad(seed: number, load: Load, loadMs: number): void {
  const { validations, createLatencies } = load;
  console.info(
    `[concurrency-10k] seed ${seed}: ${TOTAL} creates + ${validations.length} validations over ${PROCESSES} ` +
      `processes (${PROCESSES * IN_FLIGHT_PER_PROCESS} workers) in ${loadMs} ms: ` +
      `${Math.round((TOTAL / loadMs) * 1000)} creates/s, ` +
      `${Math.round(((TOTAL + validations.length) / loadMs) * 1000)} calls/s; create latency ` +
      `p50 ${Math.round(percentile(createLatencies, 0.5))} ms, p99 ${Math.round(percentile(createLatencies, 0.99))} ms, ` +
      `max ${Math.round(percentile(createLatencies, 1))} ms; evicted-secret checks through another process: ` +
      `${load.evictedChecks}; sampled validations: ${JSON.stringify(tally(sampledValidations(load).map((v) => v.result)))}; ` +
      `evictions reported before the issuing response arrived: ${load.evictedBeforeKnown.size}; ` +
      `accepted within the replicas' window: ${JSON.stringify(load.acceptedInWindow)}`,
  );
}

function expectNothingContradictedAnEviction(load: Load): void {
  // Nothing failed, and nothing seen during the run contradicts an acknowledged eviction.
  expect(load.unexpected).toEqual([]);
  expect(load.violations).toEqual([]);
  expect(load.acceptedInWindow.length).toBeLessThanOrEqual(Math.floor(load.validations.length / 100));
  expect(load.issued.size).toBe(TOTAL);
  expect(duplicates([...load.issued.values()].map((t) => t.secret))).toEqual([]);
}

/** The stored state, exactly; resolves with the active and archived token ids. */
async function expectTheStoredStateExactly(load: Load): Promise<{ activeIds: string[]; archivedIds: string[] }> {
  const state = await storedState(db, UID);
  const activeIds = state.active.map((t) => t.id);
  const archivedIds = state.archived.map((a) => a._id);
  expect(stateViolations(UID, state, CAP)).toEqual([]);
  expect(state.active).toHaveLength(CAP);
  expect(state.archived).toHaveLength(TOTAL - CAP);
  expect([...activeIds, ...archivedIds].sort()).toEqual([...load.issued.keys()].sort());
  expect(tally(state.archived.map((a) => a.reason))).toEqual({ EVICTED: TOTAL - CAP });
  return { activeIds, archivedIds };
}

function expectEveryEvictionReportedOnce(load: Load, archivedIds: string[]): void {
  // Every archived token was reported evicted by exactly one response, one per token beyond the cap.
  const responses = [...load.issued.values()];
  const reported = responses.flatMap((t) => t.evicted);
  expect(duplicates(reported)).toEqual([]);
  expect([...reported].sort()).toEqual([...archivedIds].sort());
  expect(responses.flatMap((t) => t.replaced)).toEqual([]);
  expect(tally(responses.map((t) => String(t.evicted.length)))).toEqual({ '0': CAP, '1': TOTAL - CAP });
  // Every eviction was checked through another process while the load ran.
  expect(load.evictedChecks).toBe(TOTAL - CAP);
}

function expectTheNewestActive(load: Load, activeIds: string[]): void {
  // The active tokens are the newest CAP by the create times the responses reported.
  const newest = [...load.issued.entries()]
    .map(([id, t]) => ({ id, createTime: t.createTime }))
    .sort(oldestFirst)
    .slice(-CAP)
    .map((t) => t.id);
  expect([...activeIds].sort()).toEqual([...newest].sort());
}

function expectSampledRefusalsArchived(load: Load, archivedIds: string[]): void {
  // A sampled validation that refused a token refused an archived one.
  const archivedSet = new Set(archivedIds);
  expect(sampledValidations(load).filter((v) => v.result !== 'OK' && !archivedSet.has(v.tokenId))).toEqual([]);
}

async function expectTheServiceAgrees(load: Load, activeIds: string[]): Promise<void> {
  // The service agrees, through every process: CAP active, and each active secret validates.
  for (const [i, c] of clients.entries()) {
    const listed = await c.tokens.listAuthTokens({ uid: UID, pageSize: 1 }, CALL_TIMEOUT_MS);
    expect([i, listed.ok && listed.response.totalSize]).toEqual([i, CAP]);
  }
  const finalChecks = await pool(activeIds, 16, async (id, i) => {
    const outcome = await clients[i % PROCESSES]!.tokens.validateAuthToken({ authToken: load.issued.get(id)!.secret }, CALL_TIMEOUT_MS);
    return outcome.ok && outcome.response.authToken?.tokenId === id ? 'OK' : outcomeName(outcome);
  });
  expect(tally(finalChecks)).toEqual({ OK: CAP });
}
