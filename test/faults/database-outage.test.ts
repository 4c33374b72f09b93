// Database outages under load: a service process against a mongod of this file's own, on a fixed
// port, serving a steady load of CreateAuthToken and ValidateAuthToken calls that each carry a
// deadline. mongod is stopped three times mid-load, first cleanly (SIGTERM), then twice by a crash
// (SIGKILL), and each time restarted on the same port and data folder, while the service keeps
// running.
//
// What must hold, per call: it ends within its deadline (plus a small margin for the transport and
// this loaded machine), never later; it either succeeds or fails with
//   - UNAVAILABLE / ERR_SERVICE_UNAVAILABLE: the service found the database unreachable, or
//   - DEADLINE_EXCEEDED: the deadline came first. Accepted for SHORT calls (2 s) only: the service
//     learns that mongod is gone when its driver's server selection gives up
//     (serverSelectionTimeoutMS, 5 s, src/storage/database.ts), so a call with a shorter deadline
//     cannot be told anything else in time; what matters is that it is told at its deadline and
//     not left hanging. LONG calls (9 s, more than server selection plus a margin) get no such
//     excuse: when they fail, they must fail with UNAVAILABLE before their deadline: fail fast.
// No other status is acceptable (INTERNAL would mean an unmapped driver error). Failures happen
// only to calls that overlap an outage (from the stop until readiness is SERVING again). Every
// Create that was acknowledged is found in the database afterwards (active or archived): no success
// is reported for an unpersisted write, even across a mongod crash.
//
// The random load may or may not catch a transaction in flight at the moment mongod dies, so
// probes make sure of it, through a second service process whose MongoDB connections carry their
// own appName: MongoDB's failCommand fail point holds a probe's CreateAuthToken inside its
// transaction (at the archive insert, at the commit, and, in the last outage, at the update of the
// user document), and mongod is SIGKILLed while they wait. They must then fail fast with
// UNAVAILABLE like any other long call, and their handlers must have ended by their deadline (read
// from the probe service's own access log).
//
// Health, through the real grpc_health_probe: readiness (authtoken.v1.AuthTokenService) goes
// NOT_SERVING (exit 4) during the outage while liveness ("") stays SERVING (exit 0), and readiness
// returns to SERVING after the restart, with the same service process (same pid, never restarted).
//
// mongod is spawned here (a single-member replica set "rs0", like the embedded one) rather than
// with startEmbeddedMongod, whose restart on an existing data folder failed once under this load
// with "already initialized" (see initiateReplicaSet in src/embedded-mongod/).
import { randomUUID } from 'node:crypto';
import { type Db, MongoClient } from 'mongodb';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { ensureGoTool } from '../../scripts/go-tools';
import { mongodBinary as cachedMongodBinary } from '../support/mongod';
import { runBinary } from '../support/go-binaries';
import { type ServerProcess, startServerProcess } from '../support/server-process';
import {
  type Clients,
  connect,
  freePort,
  initiateReplicaSet,
  type MongodProcess,
  type Outcome,
  outcomeName,
  percentile,
  pollUntil,
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

const REPLICA_SET = 'rs0';
const CAP = 50;
/** Creates for this uid run at the cap: every one is an eviction transaction. */
const HOT_UID = 'outage-hot';
/** Creates spread over these stay below the cap: one atomic update each. */
const COOL_UIDS = Array.from({ length: 60 }, (_, i) => `outage-cool-${i}`);
/** Only validated: its tokens, issued before the load, stay active throughout. */
const READER_UID = 'outage-reader';
const READER_TOKENS = 10;
const WORKERS = 6;
/** A worker starts a call at most this often: a steady load, not a busy loop against failures. */
const PACE_MS = 40;
const SHORT_DEADLINE_MS = 2_000;
/** Longer than the driver's server selection timeout (5 s) plus a generous margin. */
const LONG_DEADLINE_MS = 9_000;
const LONG_SHARE = 0.25;
/** How late after its deadline a call may end: client timers and a loaded 2-core machine. */
const DEADLINE_MARGIN_MS = 500;
/** Before each outage, and after each recovery, this many successful calls in a row. */
const HEALTHY_CALLS = 150;
/** During each outage, at least this many failed calls, of which this many long ones, before the restart. */
const OUTAGE_FAILURES = 30;
const OUTAGE_LONG_CALLS = 6;

/** The probe service: its own appName (for the fail point) and a cap of 2. */
const PROBE_APP = 'outage-probe';
const PROBE_CAP = 2;
interface Probe {
  /** The command the probe's CreateAuthToken is held at, inside its transaction. */
  command: 'insert' | 'update' | 'commitTransaction';
  uid: string;
  deviceId: string;
}
/**
 * Which transaction statement each probe is held at follows from its path (src/storage/
 * mongo-token-store.ts issueToken): a user at the cap without device_id goes update (fast path, no
 * match), find, update, insert, commit; a new device_id of a user below the cap goes find, update,
 * commit. The fail point holds each at the first of its listed commands on that path.
 */
const PROBES: Probe[][] = [
  [
    { command: 'insert', uid: 'probe-at-insert', deviceId: '' },
    { command: 'commitTransaction', uid: 'probe-at-commit', deviceId: 'probe-device' },
  ],
  [{ command: 'update', uid: 'probe-at-update', deviceId: 'probe-device' }],
];
/** Outages in order: a clean stop, then crashes with probes held in transactions. */
const OUTAGES: { how: 'SIGTERM' | 'SIGKILL'; probes: Probe[] }[] = [
  { how: 'SIGTERM', probes: [] },
  { how: 'SIGKILL', probes: PROBES[0]! },
  { how: 'SIGKILL', probes: PROBES[1]! },
];

const READINESS = 'authtoken.v1.AuthTokenService';
const EXIT_SERVING = 0;
const EXIT_NOT_SERVING = 4;

let healthProbe: string;
let mongodBinary: string;
let dataDir: string;
let mongodPort: number;
let mongod: MongodProcess | undefined;
let mongo: MongoClient | undefined;
let server: ServerProcess | undefined;
let clients: Clients | undefined;
let probeServer: ServerProcess | undefined;
let probeClients: Clients | undefined;
const dbName = `faults_outage_${randomUUID().slice(0, 8)}`;

function mongodUri(): string {
  return `mongodb://127.0.0.1:${mongodPort}/?replicaSet=${REPLICA_SET}`;
}

/** mongod on this file's fixed port and data folder; the replica set config lives in the data. */
function startMongod(): Promise<MongodProcess> {
  return spawnMongod({
    binary: mongodBinary,
    dataDir,
    port: mongodPort,
    args: ['--replSet', REPLICA_SET, '--setParameter', 'enableTestCommands=1'],
  });
}

beforeAll(async () => {
  [healthProbe, mongodBinary] = await Promise.all([
    ensureGoTool('grpc-health-probe'),
    cachedMongodBinary(),
  ]);
  dataDir = await tempDir('authtoken-faults-outage-');
  mongodPort = await freePort();
  mongod = await startMongod();
  await initiateReplicaSet(REPLICA_SET, [mongod.host]);
  await waitForPrimary(REPLICA_SET, [mongod.host]);
  server = await startServerProcess({ MONGODB_URI: mongodUri(), MONGODB_DB: dbName, MAX_TOKENS_PER_USER: String(CAP) });
  clients = connect(server.port);
  probeServer = await startServerProcess({
    MONGODB_URI: `${mongodUri()}&appName=${PROBE_APP}`,
    MONGODB_DB: dbName,
    MAX_TOKENS_PER_USER: String(PROBE_CAP),
  });
  probeClients = connect(probeServer.port);
}, 300_000);

afterAll(async () => {
  clients?.close();
  probeClients?.close();
  await Promise.allSettled([server?.stop(), probeServer?.stop()]);
  await mongo?.close();
  await mongod?.stop();
  await removeTempDirs();
});

/** grpc_health_probe's exit code for `service` ('' is liveness) on the load's service. */
async function probe(service: string): Promise<number | null> {
  const result = await runBinary(healthProbe, [
    `-addr=127.0.0.1:${server!.port}`,
    `-service=${service}`,
    '-connect-timeout=2s',
    '-rpc-timeout=2s',
  ]);
  return result.code;
}

async function probeBoth(): Promise<{ liveness: number | null; readiness: number | null }> {
  const [liveness, readiness] = await Promise.all([probe(''), probe(READINESS)]);
  return { liveness, readiness };
}

/** The access-log lines ("call", or "call failed" with the error for INTERNAL) the probe service has written for CreateAuthToken so far. */
function probeCreateLog(): { code: string; durationMs: number }[] {
  return probeServer!
    .output()
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as { msg?: string; method?: string; code: string; durationMs: number; err?: unknown })
    .filter(
      (entry) =>
        (entry.msg === 'call' || entry.msg === 'call failed') &&
        entry.method === 'authtoken.v1.AuthTokenService/CreateAuthToken',
    );
}

type Phase = 'healthy' | 'outage' | 'recovering' | 'recovered';
type Kind = 'create-hot' | 'create-cool' | 'validate';

interface Call {
  kind: Kind;
  deadlineMs: number;
  /** Phase when the call was sent, and the outage it belongs to (1-based; 0 before the first). */
  phase: Phase;
  outage: number;
  outcome: Outcome<unknown>;
}

test('mongod stopped and crashed under load: calls fail fast and in time, readiness follows, nothing acknowledged is lost, the service recovers by itself', async () => {
  const pid = server!.process.pid;
  const calls: Call[] = [];
  const acked = new Map<string, { uid: string; outage: number; phase: Phase }>();
  /** From each stop of mongod until readiness is SERVING again (performance.now()). */
  const outageWindows: { start: number; end: number }[] = [];
  let phase: Phase = 'healthy';
  let outage = 0;
  let stopping = false;
  /** Wakes whoever waits for a condition on the calls made so far. */
  let onCall: (() => void) | undefined;
  let consecutiveOk = 0;

  for (const uid of [HOT_UID, READER_UID, ...COOL_UIDS]) {
    expect(outcomeName(await clients!.users.createUser({ uid, name: uid }, 10_000))).toBe('OK');
  }
  const readerSecrets: string[] = [];
  for (let i = 0; i < READER_TOKENS; i++) {
    const created = await clients!.tokens.createAuthToken({ uid: READER_UID }, 10_000);
    if (!created.ok) throw new Error(`setup: ${outcomeName(created)}`);
    readerSecrets.push(created.response.authToken!.authToken);
  }
  for (const { uid, deviceId } of PROBES.flat()) {
    expect(outcomeName(await probeClients!.users.createUser({ uid, name: uid }, 10_000))).toBe('OK');
    if (deviceId !== '') continue;
    // Without a device, the probe's user starts at its cap, so its create is an eviction transaction.
    for (let i = 0; i < PROBE_CAP; i++) {
      const created = await probeClients!.tokens.createAuthToken({ uid }, 10_000);
      if (!created.ok) throw new Error(`setup: ${outcomeName(created)}`);
      acked.set(created.response.authToken!.tokenId, { uid, outage: 0, phase: 'healthy' });
    }
  }
  const probeCreatesBefore = probeCreateLog().length;

  const worker = async (w: number) => {
    for (let i = 0; !stopping; i++) {
      const started = performance.now();
      const r = Math.random();
      const kind: Kind = r < 0.4 ? 'validate' : r < 0.7 ? 'create-hot' : 'create-cool';
      const deadlineMs = Math.random() < LONG_SHARE ? LONG_DEADLINE_MS : SHORT_DEADLINE_MS;
      const sentPhase = phase;
      const sentOutage = outage;
      let outcome: Outcome<unknown>;
      if (kind === 'validate') {
        const secret = readerSecrets[Math.floor(Math.random() * readerSecrets.length)]!;
        outcome = await clients!.tokens.validateAuthToken({ authToken: secret }, deadlineMs);
      } else {
        const uid = kind === 'create-hot' ? HOT_UID : COOL_UIDS[(w * 7 + i) % COOL_UIDS.length]!;
        const created = await clients!.tokens.createAuthToken({ uid }, deadlineMs);
        if (created.ok) acked.set(created.response.authToken!.tokenId, { uid, outage: sentOutage, phase: sentPhase });
        outcome = created;
      }
      calls.push({ kind, deadlineMs, phase: sentPhase, outage: sentOutage, outcome });
      consecutiveOk = outcome.ok ? consecutiveOk + 1 : 0;
      onCall?.();
      const wait = PACE_MS - (performance.now() - started);
      if (wait > 0) await new Promise((wake) => setTimeout(wake, wait));
    }
  };

  /** Resolves once `condition` holds, re-checked after every call (bounded by `limitMs`). */
  const untilCalls = (what: string, condition: () => boolean, limitMs = 120_000) =>
    new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        onCall = undefined;
        reject(new Error(`not within ${limitMs} ms: ${what}`));
      }, limitMs);
      const check = () => {
        if (!condition()) return;
        clearTimeout(timer);
        onCall = undefined;
        resolve();
      };
      onCall = check;
      check();
    });

  const timeline: string[] = [];
  const t0 = performance.now();
  const mark = (event: string) => timeline.push(`${since(t0)} ms ${event}`);
  const probes: { name: string; outage: number; crashedAt: number; outcome: Promise<Outcome<unknown>> }[] = [];

  /**
   * Holds each probe's CreateAuthToken in mongod at its command, inside its transaction: one fail
   * point setting for all of them, because mongod cannot change a fail point while a connection
   * is blocked in it. Returns the probes' calls.
   */
  const holdProbes = async (admin: Db, held: Probe[]) => {
    const holding = await failCommands(admin, { commands: held.map((p) => p.command), appName: PROBE_APP, times: held.length });
    const calls: { name: string; outcome: Promise<Outcome<unknown>> }[] = [];
    for (const [i, { command, uid, deviceId }] of held.entries()) {
      const outcome = probeClients!.tokens.createAuthToken({ uid, deviceId }, LONG_DEADLINE_MS);
      calls.push({ name: `held at ${command}`, outcome });
      // Answers once the probe's command has entered the fail point, i.e. is blocked in mongod.
      await holding.entered(i + 1);
      mark(`probe held at ${command} (${uid})`);
    }
    return calls;
  };

  // Workers pace their calls (PACE_MS) to make a steady load; nothing waits on a fixed time.
  const load = Promise.all(Array.from({ length: WORKERS }, (_, w) => worker(w)));
  try {
    const ready = await pollUntil('readiness SERVING at start', probeBoth, (p) => p.readiness === EXIT_SERVING, {
      timeoutMs: 30_000,
    });
    mark(`readiness SERVING (${Math.round(ready.elapsedMs)} ms of polling)`);

    for (const { how, probes: held } of OUTAGES) {
      await untilCalls(`${HEALTHY_CALLS} successful calls in a row`, () => consecutiveOk >= HEALTHY_CALLS);
      mark(`${HEALTHY_CALLS} calls OK in a row`);

      let heldCalls: Awaited<ReturnType<typeof holdProbes>> = [];
      if (held.length > 0) {
        const direct = await MongoClient.connect(`mongodb://127.0.0.1:${mongodPort}/?directConnection=true`);
        try {
          heldCalls = await holdProbes(direct.db('admin'), held);
        } finally {
          await direct.close();
        }
      }

      outage++;
      phase = 'outage';
      const window = { start: performance.now(), end: Infinity };
      outageWindows.push(window);
      const failuresBefore = calls.filter((c) => !c.outcome.ok).length;
      // SIGKILL is a crash: no clean shutdown, no final checkpoint; only what was journaled survives.
      if (how === 'SIGKILL') mongod!.process.kill('SIGKILL');
      for (const c of heldCalls) probes.push({ ...c, outage, crashedAt: window.start });
      await mongod!.stop();
      mongod = undefined;
      mark(`mongod stopped (${how})`);

      // Readiness follows the database; liveness does not.
      const livenessSeen: (number | null)[] = [];
      const notServing = await pollUntil(
        'readiness NOT_SERVING',
        async () => {
          const p = await probeBoth();
          livenessSeen.push(p.liveness);
          return p;
        },
        (p) => p.readiness === EXIT_NOT_SERVING,
        { timeoutMs: 30_000 },
      );
      mark(`readiness NOT_SERVING after ${Math.round(notServing.elapsedMs)} ms of polling`);
      expect(tally(livenessSeen.map(String))).toEqual({ [EXIT_SERVING]: livenessSeen.length });

      await untilCalls(`${OUTAGE_FAILURES} failed calls, ${OUTAGE_LONG_CALLS} long calls ended during outage ${outage}`, () => {
        const during = calls.filter((c) => c.outage === outage && c.phase === 'outage');
        return (
          calls.filter((c) => !c.outcome.ok).length - failuresBefore >= OUTAGE_FAILURES &&
          during.filter((c) => c.deadlineMs === LONG_DEADLINE_MS).length >= OUTAGE_LONG_CALLS
        );
      });
      // The probes' deadlines have passed too (they are long calls): let them end before the restart.
      for (const p of probes) await p.outcome;
      expect(await probe('')).toBe(EXIT_SERVING);
      mark('enough calls failed; restarting mongod on the same port and data folder');

      const restarting = performance.now();
      mongod = await startMongod();
      await waitForPrimary(REPLICA_SET, [mongod.host]);
      phase = 'recovering';
      mark(`mongod restarted in ${since(restarting)} ms`);
      const serving = await pollUntil('readiness SERVING again', probeBoth, (p) => p.readiness === EXIT_SERVING, {
        timeoutMs: 60_000,
      });
      window.end = performance.now();
      phase = 'recovered';
      mark(`readiness SERVING again after ${Math.round(serving.elapsedMs)} ms of polling`);
      expect(serving.result.liveness).toBe(EXIT_SERVING);
    }
    await untilCalls(`${HEALTHY_CALLS} successful calls in a row after the last recovery`, () => consecutiveOk >= HEALTHY_CALLS);
    mark('recovered: calls succeed again');
  } finally {
    stopping = true;
    await load;
    await Promise.allSettled(probes.map((p) => p.outcome));
    console.info(`[database-outage] timeline:\n  ${timeline.join('\n  ')}`);
  }

  // What happened, per phase and kind of call.
  const summary: Record<string, Record<string, number>> = {};
  for (const c of calls) {
    const counts = (summary[`${c.phase} #${c.outage} ${c.kind} ${c.deadlineMs} ms`] ??= {});
    const name = outcomeName(c.outcome);
    counts[name] = (counts[name] ?? 0) + 1;
  }
  const failed = calls.filter((c) => !c.outcome.ok);
  const took = (c: Call) => c.outcome.doneAt - c.outcome.sentAt;
  const longFailures = failed.filter((c) => c.deadlineMs === LONG_DEADLINE_MS);
  console.info(
    `[database-outage] ${calls.length} calls, ${failed.length} failed: ${JSON.stringify(tally(failed.map((c) => outcomeName(c.outcome))))}; ` +
      `failure latency p50 ${Math.round(percentile(failed.map(took), 0.5))} ms, max ${Math.round(percentile(failed.map(took), 1))} ms; ` +
      `long-deadline failures ${JSON.stringify(tally(longFailures.map((c) => `${outcomeName(c.outcome)} ${c.kind}`)))}, ` +
      `latency max ${Math.round(percentile(longFailures.map(took), 1))} ms\n` +
      Object.entries(summary)
        .map(([k, v]) => `  ${k}: ${JSON.stringify(v)}`)
        .join('\n'),
  );
  const probeResults: string[] = [];
  for (const p of probes) {
    const o = await p.outcome;
    probeResults.push(
      `${p.name}: ${outcomeName(o)} after ${Math.round(o.doneAt - o.sentAt)} ms ` +
        `(${Math.round(o.doneAt - p.crashedAt)} ms after the crash of outage #${p.outage}; deadline ${LONG_DEADLINE_MS} ms)`,
    );
  }
  const probeLog = probeCreateLog().slice(probeCreatesBefore);
  console.info(
    `[database-outage] probes: ${probeResults.join('; ')}; the probe service's access log for them: ${JSON.stringify(probeLog)}`,
  );
  const describe = (c: Call) =>
    `${c.phase} #${c.outage} ${c.kind} (${c.deadlineMs} ms) sent at ${Math.round(c.outcome.sentAt - t0)} ms, ` +
    `took ${Math.round(took(c))} ms: ${outcomeName(c.outcome)} ${c.outcome.ok ? '' : c.outcome.details}`;

  // Every call ended in time: none hung past its deadline.
  expect(calls.filter((c) => took(c) > c.deadlineMs + DEADLINE_MARGIN_MS).map(describe)).toEqual([]);

  // Every failure is UNAVAILABLE (the service's own ERR_SERVICE_UNAVAILABLE) or, for a short
  // call, its deadline.
  const acceptable = (c: Call) =>
    outcomeName(c.outcome) === 'UNAVAILABLE ERR_SERVICE_UNAVAILABLE' ||
    (c.deadlineMs === SHORT_DEADLINE_MS &&
      ['DEADLINE_EXCEEDED (no reason)', 'DEADLINE_EXCEEDED ERR_DEADLINE_EXCEEDED'].includes(outcomeName(c.outcome)));
  expect(failed.filter((c) => !acceptable(c)).map(describe)).toEqual([]);
  expect(longFailures.length).toBeGreaterThanOrEqual(OUTAGES.length * OUTAGE_LONG_CALLS);

  // Failures happen only to calls that overlap an outage.
  const overlapsOutage = (c: Call) => outageWindows.some((w) => c.outcome.sentAt <= w.end && c.outcome.doneAt >= w.start);
  expect(failed.filter((c) => !overlapsOutage(c)).map(describe)).toEqual([]);
  // Every outage was felt by the load: some failed call overlaps each outage window. (A call's
  // `outage` tag is the one in progress when it was sent, so a call sent just before a stop that
  // failed during it carries the previous tag.)
  const felt = outageWindows.map((w) => failed.some((c) => c.outcome.sentAt <= w.end && c.outcome.doneAt >= w.start));
  expect(felt).toEqual(OUTAGES.map(() => true));

  // The same service process served throughout.
  expect(server!.process.pid).toBe(pid);
  expect(server!.process.exitCode).toBe(null);

  // Nothing acknowledged was lost: every acknowledged create is in the database.
  mongo = await MongoClient.connect(mongodUri(), { promoteBuffers: true });
  const db = mongo.db(dbName);
  const violations: string[] = [];
  const caps: [string, number][] = [
    ...[HOT_UID, READER_UID, ...COOL_UIDS].map((uid): [string, number] => [uid, CAP]),
    ...PROBES.flat().map((p): [string, number] => [p.uid, PROBE_CAP]),
  ];
  for (const [uid, cap] of caps) {
    const state = await storedState(db, uid);
    violations.push(...stateViolations(uid, state, cap));
    const stored = new Set([...state.active.map((t) => t.id), ...state.archived.map((a) => a._id)]);
    for (const [id, a] of acked) {
      if (a.uid === uid && !stored.has(id)) violations.push(`acknowledged ${id} (${a.phase} #${a.outage}) is not in the database`);
    }
  }
  expect(violations).toEqual([]);
  console.info(
    `[database-outage] acknowledged creates: ${acked.size} (${JSON.stringify(tally([...acked.values()].map((a) => `${a.phase} #${a.outage}`)))}), all stored`,
  );

  // The transactions in flight when mongod crashed failed fast too: UNAVAILABLE, before their deadline,
  // and their handlers in the service ended by then as well (no work left running past a deadline).
  const allProbes = PROBES.flat();
  expect(probeResults.map((r) => r.replace(/ after .*/, ''))).toEqual(
    allProbes.map((p) => `held at ${p.command}: UNAVAILABLE ERR_SERVICE_UNAVAILABLE`),
  );
  expect(
    probeLog.map((e) => `${e.code} ${e.durationMs <= LONG_DEADLINE_MS + DEADLINE_MARGIN_MS ? 'by its deadline' : `after ${Math.round(e.durationMs)} ms`}`),
  ).toEqual(allProbes.map(() => 'UNAVAILABLE by its deadline'));
});
