// Primary stepdowns under load, on a real 3-member replica set: three mongod processes on
// 127.0.0.1 (replica set "rs3"), and the service pointed at all three. While a steady stream of
// CreateAuthToken calls runs (users at a small cap, so most calls evict), the primary is told to
// step down (replSetStepDown 10 s) several times, each time while one create is interrupted at its
// archive copy in the primary (failCommand fail point: held
// through the stepdown, or its connection closed, alternately); the load keeps going through each
// election.
//
// What must hold: the service rides through each election (retryable writes, w:majority, and a
// failed archive copy left pending for the sweep), so a call either succeeds or fails with UNAVAILABLE
// (never INTERNAL, never a hang); every acknowledged token is present afterwards, active or
// archived, on the new primary and on every member once they have caught up (majority-acknowledged
// writes are never rolled back); and the invariants hold: each user has exactly the cap active, no
// duplicates, nothing both active and archived, every archived token EVICTED and older than every
// active one, every token an acknowledged response reported evicted archived, no user holding more
// tokens than calls were made for it. The service agrees: acknowledged active secrets validate,
// archived ones are refused.
import { randomUUID } from 'node:crypto';
import { status } from '@grpc/grpc-js';
import { type Db, MongoClient, ReadConcern } from 'mongodb';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { mongodBinary } from '../support/mongod';
import { type ServerProcess, startServerProcess } from '../support/server-process';
import {
  type Clients,
  connect,
  duplicates,
  freePort,
  initiateReplicaSet,
  type MongodProcess,
  type Outcome,
  outcomeName,
  percentile,
  pollUntil,
  pool,
  removeTempDirs,
  since,
  spawnMongod,
  stateViolations,
  storedState,
  tally,
  tempDir,
  waitForPrimary,
} from './helpers';
import { failCommands } from '../support/fail-points';

const REPLICA_SET = 'rs3';
const MEMBERS = 3;
const CAP = 10;
const UIDS = ['elect-a', 'elect-b', 'elect-c', 'elect-d'];
const WORKERS = 8;
/** Longer than an election plus the driver's server selection timeout (5 s). */
const CALL_TIMEOUT_MS = 20_000;
const STEPDOWNS = 3;
const STEPDOWN_SECONDS = 10;
/** Before each stepdown, and after the last election, this many successful creates. */
const CREATES_BETWEEN = 150;
/**
 * Before each stepdown, one create's archive copy is held in the primary by MongoDB's failCommand
 * fail point for this long, or has its connection closed, so that every stepdown surely interrupts
 * a create between its update and its copy, not only when the load happens to have one there.
 */
const HOLD_MS = 2_000;
/** The service's MongoDB appName, which the fail point matches. */
const APP_NAME = 'stepdown-service';
const dbName = `faults_stepdown_${randomUUID().slice(0, 8)}`;

const mongods: MongodProcess[] = [];
/** A direct connection to each member, for hello, stepdown and per-member reads. */
const direct: MongoClient[] = [];
let replicaSet: MongoClient | undefined;
let server: ServerProcess | undefined;
let clients: Clients | undefined;

beforeAll(async () => {
  const binary = await mongodBinary();
  const started = performance.now();
  for (let i = 0; i < MEMBERS; i++) {
    const port = await freePort();
    const dataDir = await tempDir(`authtoken-faults-rs3-${i}-`);
    mongods.push(
      await spawnMongod({
        binary,
        dataDir,
        port,
        args: [
          '--replSet', REPLICA_SET, '--wiredTigerCacheSizeGB', '0.25', '--oplogSize', '128',
          '--setParameter', 'enableTestCommands=1',
        ],
      }),
    );
  }
  const hosts = mongods.map((m) => m.host);
  await initiateReplicaSet(REPLICA_SET, hosts);
  const primary = await waitForPrimary(REPLICA_SET, hosts);
  for (const host of hosts) direct.push(await MongoClient.connect(`mongodb://${host}/?directConnection=true`, { promoteBuffers: true }));
  replicaSet = await MongoClient.connect(`mongodb://${hosts.join(',')}/?replicaSet=${REPLICA_SET}`, { promoteBuffers: true });
  console.info(`[stepdown] replica set ${REPLICA_SET} on ${hosts.join(', ')} up in ${since(started)} ms; primary ${primary}`);
  server = await startServerProcess({
    MONGODB_URI: `mongodb://${hosts.join(',')}/?replicaSet=${REPLICA_SET}&appName=${APP_NAME}`,
    MONGODB_DB: dbName,
    MAX_TOKENS_PER_USER: String(CAP),
  });
  clients = connect(server.port);
}, 300_000);

afterAll(async () => {
  clients?.close();
  await server?.stop();
  await Promise.allSettled([replicaSet?.close(), ...direct.map((c) => c.close())]);
  await Promise.allSettled(mongods.map((m) => m.stop()));
  await removeTempDirs();
});

/** The index of the member that is writable primary now, or -1. */
async function currentPrimary(): Promise<number> {
  const hellos = await Promise.all(
    direct.map((c) => c.db('admin').command({ hello: 1 }, { timeoutMS: 2_000 }).catch(() => undefined)),
  );
  return hellos.findIndex((h) => h?.isWritablePrimary === true);
}

interface Acked {
  uid: string;
  secret: string;
  evicted: string[];
}

/** A create of the stream: its outcome, and the election under way (or last done) when it was sent. */
type Sent = { outcome: Outcome<unknown>; election: number };

/** One stepdown: from which member to which, what replSetStepDown answered, how long the election took. */
type Election = { from: string; to: string; stepDownReply: string; electedMs: number };

/** The stream of creates and what it has seen so far, shared by its workers, the stepdowns and the checks. */
interface Stream {
  acked: Map<string, Acked>;
  callsPerUid: Map<string, number>;
  outcomes: Sent[];
  internalErrors: string[];
  /** Elections done so far; a call belongs to the one under way (or last done) when it was sent. */
  election: number;
  okSinceElection: number;
  /** Wakes whoever waits for successes (afterSuccesses). */
  onCall: (() => void) | undefined;
  stopping: boolean;
}

test(`${STEPDOWNS} primary stepdowns under a stream of creates lose no acknowledged token and break no invariant`, async () => {
  for (const uid of UIDS) {
    expect(outcomeName(await clients!.users.createUser({ uid, name: uid }, CALL_TIMEOUT_MS))).toBe('OK');
  }
  const stream = newStream();
  const { elections, runMs } = await stepDownUnderTheStream(stream);
  printTheRun(stream, elections, runMs);
  expectOnlyUnavailableAfterAStepdown(stream, elections);

  await waitForMembersCaughtUp();
  const archivedReason = await expectTheStoredInvariants(stream);
  await expectTheServiceAgrees(stream, archivedReason);
});

// The phases of the test, in the order it takes them.

function newStream(): Stream {
  return {
    acked: new Map(),
    callsPerUid: new Map(UIDS.map((uid) => [uid, 0])),
    outcomes: [],
    internalErrors: [],
    election: 0,
    okSinceElection: 0,
    onCall: undefined,
    stopping: false,
  };
}

async function worker(stream: Stream, w: number): Promise<void> {
  for (let i = 0; !stream.stopping; i++) {
    const uid = UIDS[(w + i) % UIDS.length]!;
    stream.callsPerUid.set(uid, stream.callsPerUid.get(uid)! + 1);
    const sentIn = stream.election;
    const outcome = await clients!.tokens.createAuthToken({ uid }, CALL_TIMEOUT_MS);
    stream.outcomes.push({ outcome, election: sentIn });
    if (!outcome.ok && outcome.code === status.INTERNAL) {
      // Diagnostics only: the service logs the error behind an INTERNAL status ("call failed").
      const logged = await pollUntil('the "call failed" log line', async () => server!.output(), (out) => out.includes('"call failed"'), {
        timeoutMs: 2_000,
      }).catch(() => undefined);
      stream.internalErrors.push(logged?.result.split('\n').filter((line) => line.includes('"call failed"')).join('\n') ?? '(not logged)');
    }
    if (outcome.ok) {
      const token = outcome.response.authToken!;
      stream.acked.set(token.tokenId, { uid, secret: token.authToken, evicted: outcome.response.evictedTokenIds });
      stream.okSinceElection++;
    }
    stream.onCall?.();
  }
}

/** Resolves once `count` creates have succeeded since the last election (bounded). */
function afterSuccesses(stream: Stream, count: number, limitMs = 120_000): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`fewer than ${count} successful creates within ${limitMs} ms`)), limitMs);
    stream.onCall = () => {
      if (stream.okSinceElection < count) return;
      clearTimeout(timer);
      stream.onCall = undefined;
      resolve();
    };
    stream.onCall();
  });
}

/** Runs the stream and STEPDOWNS stepdowns under it; resolves once the stream has stopped. */
async function stepDownUnderTheStream(stream: Stream): Promise<{ elections: Election[]; runMs: number }> {
  const elections: Election[] = [];
  const runStarted = performance.now();
  const load = Promise.all(Array.from({ length: WORKERS }, (_, w) => worker(stream, w)));
  try {
    for (let round = 0; round < STEPDOWNS; round++) {
      await afterSuccesses(stream, CREATES_BETWEEN);
      elections.push(await stepDown(stream, round));
    }
    await afterSuccesses(stream, CREATES_BETWEEN);
  } finally {
    stream.stopping = true;
    stream.onCall = undefined;
    await load;
  }
  return { elections, runMs: since(runStarted) };
}

/** One round: an insert interrupted in the primary, the primary stepped down, a new one elected. */
async function stepDown(stream: Stream, round: number): Promise<Election> {
  const before = await currentPrimary();
  expect(before).toBeGreaterThanOrEqual(0);
  await interruptAnInsert(before, round);
  stream.election++;
  stream.okSinceElection = 0;
  const stepping = performance.now();
  // The primary ends its writes in progress and may close connections: a network error is an
  // expected reply as well as ok. It refuses (ExceededTimeLimit) while no other member is
  // electable and caught up, e.g. while the one stepped down last is still frozen: then again.
  const { result: reply } = await pollUntil(
    `${mongods[before]!.host} to step down`,
    () =>
      direct[before]!
        .db('admin')
        .command({ replSetStepDown: STEPDOWN_SECONDS, secondaryCatchUpPeriodSecs: 5 })
        .then(
          (r) => `ok ${r.ok}`,
          (error: Error & { code?: number }) => `${error.name} ${error.code ?? ''}: ${error.message}`,
        ),
    (r) => !r.startsWith('MongoServerError 262:'),
    { timeoutMs: 60_000, intervalMs: 500 },
  );
  console.info(`[stepdown] round ${round + 1}: replSetStepDown on ${mongods[before]!.host} answered ${reply} after ${since(stepping)} ms`);
  const { result: after } = await pollUntil('a new primary', currentPrimary, (p) => p >= 0 && p !== before, {
    timeoutMs: 60_000,
  });
  return { from: mongods[before]!.host, to: mongods[after]!.host, stepDownReply: reply, electedMs: since(stepping) };
}

/** Resolves once a create's archive insert is held in (or dropped by) member `primary`. */
async function interruptAnInsert(primary: number, round: number): Promise<void> {
  const admin = direct[primary]!.db('admin');
  // Odd rounds hold the insert through the stepdown; even rounds drop its connection, as a
  // stepping-down primary (or a driver clearing its pool after a failed heartbeat) does.
  const hold = round % 2 === 0;
  const insert = await failCommands(admin, {
    commands: ['insert'],
    appName: APP_NAME,
    ...(hold ? { blockMs: HOLD_MS } : { data: { blockConnection: false, closeConnection: true } }),
  });
  await insert.entered();
}

function failedCalls(stream: Stream): Sent[] {
  return stream.outcomes.filter((o) => !o.outcome.ok);
}

function printTheRun(stream: Stream, elections: Election[], runMs: number): void {
  const { outcomes, acked, internalErrors } = stream;
  const failed = failedCalls(stream);
  const latencies = outcomes.filter((o) => o.outcome.ok).map((o) => o.outcome.doneAt - o.outcome.sentAt);
  console.info(
    `[stepdown] ${outcomes.length} creates in ${runMs} ms (${acked.size} acknowledged, ${Math.round((acked.size / runMs) * 1000)}/s; ` +
      `latency p50 ${Math.round(percentile(latencies, 0.5))} ms, p99 ${Math.round(percentile(latencies, 0.99))} ms, ` +
      `max ${Math.round(percentile(latencies, 1))} ms); elections: ${JSON.stringify(elections)}; failed calls by election: ` +
      JSON.stringify(
        Object.fromEntries(
          Array.from({ length: STEPDOWNS + 1 }, (_, e) => [
            e === 0 ? 'before the first' : `#${e}`,
            tally(failed.filter((o) => o.election === e).map((o) => outcomeName(o.outcome))),
          ]),
        ),
      ),
  );
  if (internalErrors.length > 0) console.info(`[stepdown] the service logged for INTERNAL:\n${[...new Set(internalErrors)].join('\n')}`);
}

function expectOnlyUnavailableAfterAStepdown(stream: Stream, elections: Election[]): void {
  const failed = failedCalls(stream);
  const failure = (o: Sent) =>
    `${outcomeName(o.outcome)} ${o.outcome.ok ? '' : o.outcome.details} after ${Math.round(o.outcome.doneAt - o.outcome.sentAt)} ms`;

  expect(elections).toHaveLength(STEPDOWNS);
  // A call either succeeded or failed with UNAVAILABLE, and none failed before the first stepdown.
  expect(failed.filter((o) => outcomeName(o.outcome) !== 'UNAVAILABLE ERR_SERVICE_UNAVAILABLE').map(failure)).toEqual([]);
  expect(failed.filter((o) => o.election === 0).map(failure)).toEqual([]);
}

async function waitForMembersCaughtUp(): Promise<void> {
  // Every member has caught up with the primary (same last applied optime).
  const { result: optimes } = await pollUntil(
    'all members at the same optime',
    async () => {
      const status = await replicaSet!.db('admin').command({ replSetGetStatus: 1 });
      return (status.members as { name: string; optime: { ts: unknown } }[]).map((m) => `${JSON.stringify(m.optime.ts)}`);
    },
    (ts) => ts.length === MEMBERS && new Set(ts).size === 1,
    { timeoutMs: 60_000 },
  );
  console.info(`[stepdown] all ${MEMBERS} members at optime ${optimes[0]}`);
}

/** The invariants of the stored tokens; resolves with every archived token id and its reason. */
async function expectTheStoredInvariants(stream: Stream): Promise<Map<string, string>> {
  // The stored state, read on the primary with majority read concern, then on every member.
  const { violations, archivedReason, states } = await primaryViolations(stream);
  violations.push(...(await memberViolations(states)));
  expect(violations).toEqual([]);
  return archivedReason;
}

/** On the primary: the violations, every archived token's reason, each user's tokens (for the members). */
async function primaryViolations({ acked, callsPerUid }: Stream): Promise<{
  violations: string[];
  archivedReason: Map<string, string>;
  states: Map<string, string>;
}> {
  const primaryDb = replicaSet!.db(dbName, { readConcern: new ReadConcern('majority') });
  const violations: string[] = [];
  const reported = [...acked.values()].flatMap((a) => a.evicted);
  for (const id of duplicates(reported)) violations.push(`${id} reported evicted by two acknowledged responses`);
  const archivedReason = new Map<string, string>();
  const states = new Map<string, string>();
  for (const uid of UIDS) {
    const state = await storedState(primaryDb, uid);
    violations.push(...stateViolations(uid, state, CAP));
    states.set(uid, JSON.stringify([state.active.map((t) => t.id), state.archived.map((a) => a._id).sort()]));
    const active = new Set(state.active.map((t) => t.id));
    for (const a of state.archived) archivedReason.set(a._id, a.reason);
    if (active.size !== CAP) violations.push(`${uid}: ${active.size} active, expected exactly ${CAP}`);
    for (const a of state.archived) if (a.reason !== 'EVICTED') violations.push(`${uid}: ${a._id} archived ${a.reason}`);
    const ackedHere = [...acked].filter(([, a]) => a.uid === uid).map(([id]) => id);
    for (const id of ackedHere) {
      if (!active.has(id) && !archivedReason.has(id)) violations.push(`${uid}: acknowledged ${id} is neither active nor archived`);
    }
    const storedCount = active.size + state.archived.length;
    if (storedCount < ackedHere.length || storedCount > callsPerUid.get(uid)!) {
      violations.push(`${uid}: ${storedCount} tokens stored for ${ackedHere.length} acknowledged of ${callsPerUid.get(uid)} calls`);
    }
  }
  for (const id of reported) {
    if (archivedReason.get(id) !== 'EVICTED') violations.push(`reported evicted ${id} is not archived as EVICTED`);
  }
  return { violations, archivedReason, states };
}

/** The members that differ from the primary's `states` (each user's tokens). */
async function memberViolations(states: Map<string, string>): Promise<string[]> {
  const violations: string[] = [];
  // Every member holds exactly the same tokens as the primary.
  for (const [i, member] of direct.entries()) {
    const db: Db = member.db(dbName);
    for (const uid of UIDS) {
      const state = await storedState(db, uid);
      const here = JSON.stringify([state.active.map((t) => t.id), state.archived.map((a) => a._id).sort()]);
      if (here !== states.get(uid)) violations.push(`${mongods[i]!.host}: ${uid} differs from the primary`);
    }
  }
  return violations;
}

async function expectTheServiceAgrees({ acked }: Stream, archivedReason: Map<string, string>): Promise<void> {
  // The service agrees: acknowledged active secrets validate, acknowledged archived ones do not.
  const results = await pool([...acked], 16, async ([id, a]) => {
    const outcome = await clients!.tokens.validateAuthToken({ authToken: a.secret }, CALL_TIMEOUT_MS);
    const expected = archivedReason.has(id) ? 'NOT_FOUND ERR_AUTH_TOKEN_NOT_FOUND' : 'OK';
    return outcomeName(outcome) === expected ? 'as stored' : `${id}: ${outcomeName(outcome)}, stored ${archivedReason.get(id) ?? 'active'}`;
  });
  expect(results.filter((r) => r !== 'as stored')).toEqual([]);
}
