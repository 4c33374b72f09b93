// Crash safety under a stream of creates: two service processes serve a continuous stream of
// CreateAuthToken calls for a few users kept at a small cap (MAX_TOKENS_PER_USER=10, so nearly
// every call evicts: an update of the user, then the archive copy), and the processes are SIGKILLed at random moments
// (delays and victims drawn from a seeded PRNG; set FAULTS_SEED to replay another schedule) and
// restarted, at least 20 times. Sometimes both die at once.
//
// Afterwards, exactly: every acknowledged token is active or archived, never both; each user has
// exactly the cap active; no duplicates; every archived token is EVICTED and older than every
// active token of its user; every token an acknowledged response reported evicted is archived; each
// user holds no more tokens than calls were made for it; and the service agrees (acknowledged active
// secrets validate, acknowledged archived ones do not).
//
// No transaction is ever open on the server (none is used), and a token a killed process left
// pending in its user's document (killed between the update and the copy) is copied by the
// surviving or restarted processes' sweep within seconds.
import { randomUUID } from 'node:crypto';
import { type Db, type Document, MongoClient } from 'mongodb';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { mongodBinary } from '../support/mongod';
import { type EmbeddedMongod, startEmbeddedMongod } from '../../src/embedded-mongod/mongod-process';
import { type ServerProcess, startServerProcess } from '../support/server-process';
import {
  type Clients,
  connect,
  duplicates,
  faultsSeed,
  outcomeName,
  percentile,
  pollUntil,
  pool,
  removeTempDirs,
  seededRandom,
  since,
  stateViolations,
  storedState,
  tally,
  tempDir,
} from './helpers';

const CAP = 10;
const UIDS = ['crash-a', 'crash-b', 'crash-c'];
const SLOTS = 2;
/** Create calls in flight at any moment, over the live processes. */
const WORKERS = 8;
const KILLS = 24;
/** A kill follows the previous restart after a delay drawn uniformly from this range. */
const KILL_DELAY_MS = [100, 1_500] as const;
/** How often both processes are killed together. */
const BOTH_PROBABILITY = 0.2;
/** Generous: a call on a surviving process must never fail for want of time. */
const CALL_TIMEOUT_MS = 30_000;
const dbName = `faults_crash_${randomUUID().slice(0, 8)}`;

let mongod: EmbeddedMongod | undefined;
let mongo: MongoClient | undefined;
let db: Db;
let env: Record<string, string>;

interface Slot {
  server: ServerProcess;
  clients: Clients;
  generation: number;
  up: boolean;
  inFlight: number;
  killedAt?: number;
}
const slots: (Slot | undefined)[] = [];

beforeAll(async () => {
  const dataDir = await tempDir('authtoken-faults-crash-');
  mongod = await startEmbeddedMongod({ binary: await mongodBinary(), dataDir });
  mongo = await MongoClient.connect(mongod.uri, { promoteBuffers: true });
  db = mongo.db(dbName);
  env = { MONGODB_URI: mongod.uri, MONGODB_DB: dbName, MAX_TOKENS_PER_USER: String(CAP) };
});

afterAll(async () => {
  for (const slot of slots) slot?.clients.close();
  await Promise.allSettled(slots.map((slot) => slot?.server.kill('SIGKILL')));
  await mongo?.close();
  await mongod?.stop();
  await removeTempDirs();
});

/** Multi-statement transactions open on the server (a retryable write's session is not one). */
function openTransactions(): Promise<Document[]> {
  return mongo!
    .db('admin')
    .aggregate([{ $currentOp: { allUsers: true, idleSessions: true } }, { $match: { 'transaction.parameters.autocommit': false } }])
    .toArray();
}

interface Acked {
  uid: string;
  secret: string;
  evicted: string[];
}

/** One kill round: who was killed, after what delay, and what it caught. */
interface Kill {
  victims: number[];
  delayMs: number;
  inFlight: number;
  orphans: number;
  restartMs: number;
}

/** The stream of creates and what it has seen so far, shared by its workers, the kills and the checks. */
interface Stream {
  /** Picks each call's uid (seeded). */
  pickUid: () => number;
  /** Service processes started so far. */
  generations: number;
  /** Waiters for "some process is up" (when both were killed at once). */
  waiters: (() => void)[];
  acked: Map<string, Acked>;
  callsPerUid: Map<string, number>;
  /** Outcomes of calls whose process was killed while they were in flight, and of the others. */
  interrupted: string[];
  undisturbed: string[];
  latencies: number[];
  stopping: boolean;
}

test(`${KILLS} SIGKILLs at random moments during a stream of creates lose no acknowledged token and break no invariant`, async () => {
  const seed = faultsSeed(20_240_611);
  const random = seededRandom(seed);
  const stream = newStream(seededRandom(seed + 1));
  await startTheProcessesAndUsers(stream);

  const { kills, runMs } = await killUnderTheStream(stream, random);
  printTheRun(seed, stream, kills, runMs);
  expectTheKillsHitTheStream(stream, kills);
  await expectNothingLeftPending();
  const archivedEverywhere = await expectTheStoredInvariants(stream);
  await expectTheServiceAgrees(stream, archivedEverywhere);
});

// The phases of the test, in the order it takes them.

function newStream(pickUid: () => number): Stream {
  return {
    pickUid,
    generations: 0,
    waiters: [],
    acked: new Map(),
    callsPerUid: new Map(UIDS.map((uid) => [uid, 0])),
    interrupted: [],
    undisturbed: [],
    latencies: [],
    stopping: false,
  };
}

async function startSlot(stream: Stream, i: number): Promise<void> {
  const server = await startServerProcess(env);
  slots[i] = { server, clients: connect(server.port), generation: ++stream.generations, up: true, inFlight: 0 };
  stream.waiters.splice(0).forEach((wake) => wake());
}

async function startTheProcessesAndUsers(stream: Stream): Promise<void> {
  for (let i = 0; i < SLOTS; i++) await startSlot(stream, i);
  const setup = await slots[0]!.clients.users.createUser({ uid: UIDS[0]!, name: 'a' }, CALL_TIMEOUT_MS);
  expect(outcomeName(setup)).toBe('OK');
  for (const uid of UIDS.slice(1)) {
    expect(outcomeName(await slots[0]!.clients.users.createUser({ uid, name: uid }, CALL_TIMEOUT_MS))).toBe('OK');
  }
}

async function liveSlot(stream: Stream): Promise<Slot> {
  for (;;) {
    const live = slots.filter((s): s is Slot => s !== undefined && s.up);
    if (live.length > 0) return live[Math.floor(Math.random() * live.length)]!;
    await new Promise<void>((wake) => stream.waiters.push(wake));
  }
}

async function worker(stream: Stream): Promise<void> {
  while (!stream.stopping) {
    const slot = await liveSlot(stream);
    const uid = UIDS[Math.floor(stream.pickUid() * UIDS.length)]!;
    stream.callsPerUid.set(uid, stream.callsPerUid.get(uid)! + 1);
    slot.inFlight++;
    const outcome = await slot.clients.tokens.createAuthToken({ uid }, CALL_TIMEOUT_MS);
    slot.inFlight--;
    const wasInterrupted = slot.killedAt !== undefined && slot.killedAt <= outcome.doneAt;
    (wasInterrupted ? stream.interrupted : stream.undisturbed).push(
      outcome.ok ? 'OK' : `${outcomeName(outcome)}${wasInterrupted ? '' : `: ${outcome.details} (gen ${slot.generation})`}`,
    );
    if (!outcome.ok) continue;
    stream.latencies.push(outcome.doneAt - outcome.sentAt);
    const token = outcome.response.authToken!;
    stream.acked.set(token.tokenId, { uid, secret: token.authToken, evicted: outcome.response.evictedTokenIds });
  }
}

/** Runs the stream and KILLS kill rounds under it; resolves once the stream has stopped. */
async function killUnderTheStream(stream: Stream, random: () => number): Promise<{ kills: Kill[]; runMs: number }> {
  const runStarted = performance.now();
  const load = Promise.all(Array.from({ length: WORKERS }, () => worker(stream)));
  const kills: Kill[] = [];
  try {
    while (kills.length < KILLS) kills.push(await killRound(stream, random));
  } finally {
    stream.stopping = true;
    await load;
  }
  return { kills, runMs: since(runStarted) };
}

/** After a random delay, SIGKILLs one process or both, and restarts them. */
async function killRound(stream: Stream, random: () => number): Promise<Kill> {
  const delayMs = Math.round(KILL_DELAY_MS[0] + random() * (KILL_DELAY_MS[1] - KILL_DELAY_MS[0]));
  const victims = random() < BOTH_PROBABILITY ? [0, 1] : [Math.floor(random() * SLOTS)];
  // The random delay is this test's input (when to crash), not a synchronisation.
  await new Promise((wake) => setTimeout(wake, delayMs));
  let inFlight = 0;
  for (const i of victims) {
    const slot = slots[i]!;
    slot.up = false;
    slot.killedAt = performance.now();
    inFlight += slot.inFlight;
  }
  await Promise.all(victims.map((i) => slots[i]!.server.kill('SIGKILL')));
  for (const i of victims) slots[i]!.clients.close();
  const orphans = (await openTransactions()).length;
  const restarting = performance.now();
  for (const i of victims) await startSlot(stream, i);
  return { victims, delayMs, inFlight, orphans, restartMs: since(restarting) };
}

function printTheRun(seed: number, stream: Stream, kills: Kill[], runMs: number): void {
  const { acked, latencies } = stream;
  console.info(
    `[crash-kills] seed ${seed}: ${kills.length} kill rounds (${kills.flatMap((k) => k.victims).length} processes ` +
      `SIGKILLed, ${kills.filter((k) => k.victims.length === 2).length} rounds both at once) in ${runMs} ms; ` +
      `${acked.size} creates acknowledged (${Math.round((acked.size / runMs) * 1000)}/s, p50 ` +
      `${Math.round(percentile(latencies, 0.5))} ms, max ${Math.round(percentile(latencies, 1))} ms); ` +
      `calls per uid ${JSON.stringify(Object.fromEntries(stream.callsPerUid))}; interrupted by a kill: ` +
      `${JSON.stringify(tally(stream.interrupted))}; undisturbed: ${JSON.stringify(tally(stream.undisturbed))}; ` +
      `kills with calls in flight: ${kills.filter((k) => k.inFlight > 0).length}; with a transaction ` +
      `left open on the server right after: ${kills.filter((k) => k.orphans > 0).length}; restart p50 ` +
      `${Math.round(percentile(kills.map((k) => k.restartMs), 0.5))} ms`,
  );
  console.info(`[crash-kills] kills: ${JSON.stringify(kills)}`);
}

function expectTheKillsHitTheStream({ interrupted, undisturbed }: Stream, kills: Kill[]): void {
  expect(kills.length).toBeGreaterThanOrEqual(20);
  // The kills hit a running stream (not an idle service) in most rounds.
  expect(kills.filter((k) => k.inFlight > 0).length).toBeGreaterThanOrEqual(KILLS / 2);
  // A call the kill did not interrupt succeeded; an interrupted one either got its answer before
  // the connection went, or failed as UNAVAILABLE (the connection dropped), nothing else.
  expect(tally(undisturbed)).toEqual({ OK: undisturbed.length });
  expect(Object.keys(tally(interrupted)).filter((r) => r !== 'OK' && !r.startsWith('UNAVAILABLE'))).toEqual([]);
}

async function expectNothingLeftPending(): Promise<void> {
  // No transaction anywhere: nothing to wait for on the server.
  expect(await openTransactions()).toEqual([]);
  // What a killed process left pending, the others' sweep copies (every second).
  const { elapsedMs } = await pollUntil(
    'no token left pending',
    async () => (await Promise.all(UIDS.map(async (uid) => (await storedState(db, uid)).pendingIds))).flat(),
    (pending) => pending.length === 0,
    { timeoutMs: 15_000 },
  );
  console.info(`[crash-kills] no transaction open; no token pending ${Math.round(elapsedMs)} ms after the load stopped`);
}

/** The invariants of the stored tokens; resolves with every archived token id and its reason. */
async function expectTheStoredInvariants({ acked, callsPerUid }: Stream): Promise<Map<string, string>> {
  const violations: string[] = [];
  const reported = [...acked.values()].flatMap((a) => a.evicted);
  for (const id of duplicates(reported)) violations.push(`${id} reported evicted by two acknowledged responses`);
  const archivedEverywhere = new Map<string, string>();
  for (const uid of UIDS) {
    const state = await storedState(db, uid);
    violations.push(...stateViolations(uid, state, CAP));
    const active = new Set(state.active.map((t) => t.id));
    const archived = new Map(state.archived.map((a) => [a._id, a.reason as string]));
    for (const [id, reason] of archived) archivedEverywhere.set(id, reason);
    if (active.size !== CAP) violations.push(`${uid}: ${active.size} active, expected exactly ${CAP}`);
    for (const [id, reason] of archived) if (reason !== 'EVICTED') violations.push(`${uid}: ${id} archived ${reason}`);
    const ackedHere = [...acked].filter(([, a]) => a.uid === uid).map(([id]) => id);
    for (const id of ackedHere) {
      if (!active.has(id) && !archived.has(id)) violations.push(`${uid}: acknowledged ${id} is neither active nor archived`);
    }
    const storedCount = active.size + archived.size;
    if (storedCount < ackedHere.length || storedCount > callsPerUid.get(uid)!) {
      violations.push(`${uid}: ${storedCount} tokens stored for ${ackedHere.length} acknowledged of ${callsPerUid.get(uid)} calls`);
    }
  }
  for (const id of reported) {
    if (archivedEverywhere.get(id) !== 'EVICTED') violations.push(`reported evicted ${id} is not archived as EVICTED`);
  }
  expect(violations).toEqual([]);
  return archivedEverywhere;
}

async function expectTheServiceAgrees({ acked }: Stream, archivedEverywhere: Map<string, string>): Promise<void> {
  // The service agrees, through a freshly started process: every acknowledged active secret
  // validates, every acknowledged archived one is refused.
  const checker = connect(slots[0]!.server.port);
  try {
    const results = await pool([...acked], 16, async ([id, a]) => {
      const outcome = await checker.tokens.validateAuthToken({ authToken: a.secret }, CALL_TIMEOUT_MS);
      const expected = archivedEverywhere.has(id) ? 'NOT_FOUND ERR_AUTH_TOKEN_NOT_FOUND' : 'OK';
      return outcomeName(outcome) === expected ? 'as stored' : `${id}: ${outcomeName(outcome)}, stored ${archivedEverywhere.get(id) ?? 'active'}`;
    });
    expect(results.filter((r) => r !== 'as stored')).toEqual([]);
    for (const uid of UIDS) {
      const listed = await checker.tokens.listAuthTokens({ uid }, CALL_TIMEOUT_MS);
      expect([uid, listed.ok && listed.response.totalSize]).toEqual([uid, CAP]);
    }
  } finally {
    checker.close();
  }
}
