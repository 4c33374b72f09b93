// The database-outage test's steps up to the end of the load: the users and tokens it starts
// from, then, under the load, each outage of OUTAGES (probes held, mongod stopped, readiness
// NOT_SERVING, enough calls failed, mongod restarted, readiness SERVING again).
import { type Db, MongoClient } from 'mongodb';
import { expect } from 'vitest';
import { failCommands } from '../../support/fail-points';
import { type Outcome, outcomeName, pollUntil, since, tally, waitForPrimary } from '../helpers';
import {
  COOL_UIDS,
  EXIT_NOT_SERVING,
  EXIT_SERVING,
  type Fixture,
  HEALTHY_CALLS,
  HOT_UID,
  LONG_DEADLINE_MS,
  OUTAGE_FAILURES,
  OUTAGE_LONG_CALLS,
  OUTAGES,
  PROBE_APP,
  PROBE_CAP,
  PROBES,
  type Probe,
  probe,
  probeBoth,
  READER_TOKENS,
  READER_UID,
  REPLICA_SET,
  startMongod,
} from './fixture';
import { type Acked, mark, type Run, startLoad, untilCalls } from './load';

/**
 * The load's users, the reader's tokens (resolves with their secrets), and the probes' users; the
 * probes' tokens are recorded in `acked`.
 */
export async function createUsersAndTokens(f: Fixture, acked: Acked): Promise<string[]> {
  for (const uid of [HOT_UID, READER_UID, ...COOL_UIDS]) {
    expect(outcomeName(await f.clients!.users.createUser({ uid, name: uid }, 10_000))).toBe('OK');
  }
  const readerSecrets: string[] = [];
  for (let i = 0; i < READER_TOKENS; i++) {
    const created = await f.clients!.tokens.createAuthToken({ uid: READER_UID }, 10_000);
    if (!created.ok) throw new Error(`setup: ${outcomeName(created)}`);
    readerSecrets.push(created.response.authToken!.authToken);
  }
  for (const { uid, deviceId } of PROBES.flat()) {
    expect(outcomeName(await f.probeClients!.users.createUser({ uid, name: uid }, 10_000))).toBe('OK');
    if (deviceId !== '') continue;
    // Without a device, the probe's user starts at its cap, so its create evicts.
    for (let i = 0; i < PROBE_CAP; i++) {
      const created = await f.probeClients!.tokens.createAuthToken({ uid }, 10_000);
      if (!created.ok) throw new Error(`setup: ${outcomeName(created)}`);
      acked.set(created.response.authToken!.tokenId, { uid, outage: 0, phase: 'healthy' });
    }
  }
  return readerSecrets;
}

/** The load, with every outage of OUTAGES under it and the recovery after; prints the timeline. */
export async function outagesUnderLoad(run: Run): Promise<void> {
  const load = startLoad(run);
  try {
    const ready = await pollUntil('readiness SERVING at start', () => probeBoth(run.fixture), (p) => p.readiness === EXIT_SERVING, {
      timeoutMs: 30_000,
    });
    mark(run, `readiness SERVING (${Math.round(ready.elapsedMs)} ms of polling)`);

    for (const outage of OUTAGES) await oneOutage(run, outage);
    await untilCalls(run, `${HEALTHY_CALLS} successful calls in a row after the last recovery`, () => run.consecutiveOk >= HEALTHY_CALLS);
    mark(run, 'recovered: calls succeed again');
  } finally {
    run.stopping = true;
    await load;
    await Promise.allSettled(run.probes.map((p) => p.outcome));
    console.info(`[database-outage] timeline:\n  ${run.timeline.join('\n  ')}`);
  }
}

async function oneOutage(run: Run, { how, probes: held }: (typeof OUTAGES)[number]): Promise<void> {
  await untilCalls(run, `${HEALTHY_CALLS} successful calls in a row`, () => run.consecutiveOk >= HEALTHY_CALLS);
  mark(run, `${HEALTHY_CALLS} calls OK in a row`);
  const heldCalls = await holdProbes(run, held);
  const { window, failuresBefore } = await stopMongod(run, how, heldCalls);
  await expectReadinessNotServing(run);
  await untilEnoughFailures(run, failuresBefore);
  await restartMongod(run, window);
}

type HeldCalls = { name: string; outcome: Promise<Outcome<unknown>> }[];

/** The probes' calls, each held in mongod at its command (none when `held` is empty). */
async function holdProbes(run: Run, held: Probe[]): Promise<HeldCalls> {
  if (held.length === 0) return [];
  const direct = await MongoClient.connect(`mongodb://127.0.0.1:${run.fixture.mongodPort}/?directConnection=true`);
  try {
    return await holdProbesIn(run, direct.db('admin'), held);
  } finally {
    await direct.close();
  }
}

/**
 * Holds each probe's CreateAuthToken in mongod at its command: one fail
 * point setting for all of them, because mongod cannot change a fail point while a connection
 * is blocked in it. Returns the probes' calls.
 */
async function holdProbesIn(run: Run, admin: Db, held: Probe[]): Promise<HeldCalls> {
  const holding = await failCommands(admin, { commands: held.map((p) => p.command), appName: PROBE_APP, times: held.length });
  const calls: HeldCalls = [];
  for (const [i, { command, uid, deviceId }] of held.entries()) {
    const outcome = run.fixture.probeClients!.tokens.createAuthToken({ uid, deviceId }, LONG_DEADLINE_MS);
    calls.push({ name: `held at ${command}`, outcome });
    // Answers once the probe's command has entered the fail point, i.e. is blocked in mongod.
    await holding.entered(i + 1);
    mark(run, `probe held at ${command} (${uid})`);
  }
  return calls;
}

/** The outage begins: mongod stopped (`how`); resolves with its window and the failures before it. */
async function stopMongod(
  run: Run,
  how: 'SIGTERM' | 'SIGKILL',
  heldCalls: HeldCalls,
): Promise<{ window: { start: number; end: number }; failuresBefore: number }> {
  const f = run.fixture;
  run.outage++;
  run.phase = 'outage';
  const window = { start: performance.now(), end: Infinity };
  run.outageWindows.push(window);
  const failuresBefore = run.calls.filter((c) => !c.outcome.ok).length;
  // SIGKILL is a crash: no clean shutdown, no final checkpoint; only what was journaled survives.
  if (how === 'SIGKILL') f.mongod!.process.kill('SIGKILL');
  for (const c of heldCalls) run.probes.push({ ...c, outage: run.outage, crashedAt: window.start });
  await f.mongod!.stop();
  f.mongod = undefined;
  mark(run, `mongod stopped (${how})`);
  return { window, failuresBefore };
}

async function expectReadinessNotServing(run: Run): Promise<void> {
  // Readiness follows the database; liveness does not.
  const livenessSeen: (number | null)[] = [];
  const notServing = await pollUntil(
    'readiness NOT_SERVING',
    async () => {
      const p = await probeBoth(run.fixture);
      livenessSeen.push(p.liveness);
      return p;
    },
    (p) => p.readiness === EXIT_NOT_SERVING,
    { timeoutMs: 30_000 },
  );
  mark(run, `readiness NOT_SERVING after ${Math.round(notServing.elapsedMs)} ms of polling`);
  expect(tally(livenessSeen.map(String))).toEqual({ [EXIT_SERVING]: livenessSeen.length });
}

/** Resolves once enough calls (long ones among them) have failed in this outage, and the probes have ended. */
async function untilEnoughFailures(run: Run, failuresBefore: number): Promise<void> {
  const { calls, outage } = run;
  await untilCalls(run, `${OUTAGE_FAILURES} failed calls, ${OUTAGE_LONG_CALLS} long calls ended during outage ${outage}`, () => {
    const during = calls.filter((c) => c.outage === outage && c.phase === 'outage');
    return (
      calls.filter((c) => !c.outcome.ok).length - failuresBefore >= OUTAGE_FAILURES &&
      during.filter((c) => c.deadlineMs === LONG_DEADLINE_MS).length >= OUTAGE_LONG_CALLS
    );
  });
  // The probes' deadlines have passed too (they are long calls): let them end before the restart.
  for (const p of run.probes) await p.outcome;
  expect(await probe(run.fixture, '')).toBe(EXIT_SERVING);
  mark(run, 'enough calls failed; restarting mongod on the same port and data folder');
}

/** The outage ends: mongod back on its port and data folder, readiness SERVING again. */
async function restartMongod(run: Run, window: { start: number; end: number }): Promise<void> {
  const f = run.fixture;
  const restarting = performance.now();
  f.mongod = await startMongod(f);
  await waitForPrimary(REPLICA_SET, [f.mongod.host]);
  run.phase = 'recovering';
  mark(run, `mongod restarted in ${since(restarting)} ms`);
  const serving = await pollUntil('readiness SERVING again', () => probeBoth(f), (p) => p.readiness === EXIT_SERVING, {
    timeoutMs: 60_000,
  });
  window.end = performance.now();
  run.phase = 'recovered';
  mark(run, `readiness SERVING again after ${Math.round(serving.elapsedMs)} ms of polling`);
  expect(serving.result.liveness).toBe(EXIT_SERVING);
}
