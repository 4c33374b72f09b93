// The database-outage test's checks once the load has stopped: what the calls and the probes got,
// printed and asserted, the service process, and the stored state.
import { MongoClient } from 'mongodb';
import { expect } from 'vitest';
import { outcomeName, percentile, stateViolations, storedState, tally } from '../helpers';
import { pollUntil } from '../../support/poll';
import {
  type AccessLogEntry,
  CAP,
  COOL_UIDS,
  DEADLINE_MARGIN_MS,
  type Fixture,
  HOT_UID,
  LONG_DEADLINE_MS,
  mongodUri,
  OUTAGE_LONG_CALLS,
  OUTAGES,
  PROBE_CAP,
  probeCreateLog,
  PROBES,
  READER_UID,
  SHORT_DEADLINE_MS,
} from './fixture';
import type { Call, Run } from './load';

const took = (c: Call) => c.outcome.doneAt - c.outcome.sentAt;

function failedCalls(run: Run): Call[] {
  return run.calls.filter((c) => !c.outcome.ok);
}

function longFailures(run: Run): Call[] {
  return failedCalls(run).filter((c) => c.deadlineMs === LONG_DEADLINE_MS);
}

function describeCall(run: Run, c: Call): string {
  return (
    `${c.phase} #${c.outage} ${c.kind} (${c.deadlineMs} ms) sent at ${Math.round(c.outcome.sentAt - run.t0)} ms, ` +
    `took ${Math.round(took(c))} ms: ${outcomeName(c.outcome)} ${c.outcome.ok ? '' : c.outcome.details}`
  );
}

export function printTheCalls(run: Run): void {
  const { calls } = run;
  // What happened, per phase and kind of call.
  const summary: Record<string, Record<string, number>> = {};
  for (const c of calls) {
    const counts = (summary[`${c.phase} #${c.outage} ${c.kind} ${c.deadlineMs} ms`] ??= {});
    const name = outcomeName(c.outcome);
    counts[name] = (counts[name] ?? 0) + 1;
  }
  const failed = failedCalls(run);
  const long = longFailures(run);
  console.info(
    `[database-outage] ${calls.length} calls, ${failed.length} failed: ${JSON.stringify(tally(failed.map((c) => outcomeName(c.outcome))))}; ` +
      `failure latency p50 ${Math.round(percentile(failed.map(took), 0.5))} ms, max ${Math.round(percentile(failed.map(took), 1))} ms; ` +
      `long-deadline failures ${JSON.stringify(tally(long.map((c) => `${outcomeName(c.outcome)} ${c.kind}`)))}, ` +
      `latency max ${Math.round(percentile(long.map(took), 1))} ms\n` +
      Object.entries(summary)
        .map(([k, v]) => `  ${k}: ${JSON.stringify(v)}`)
        .join('\n'),
  );
}

/** Prints what the probes got, and the probe service's access log for them (the lines after the first `logFrom`). */
export async function printTheProbes(run: Run, logFrom: number): Promise<{ probeResults: string[]; probeLog: AccessLogEntry[] }> {
  const probeResults: string[] = [];
  for (const p of run.probes) {
    const o = await p.outcome;
    probeResults.push(
      `${p.name}: ${outcomeName(o)} after ${Math.round(o.doneAt - o.sentAt)} ms ` +
        `(${Math.round(o.doneAt - p.crashedAt)} ms after the crash of outage #${p.outage}; deadline ${LONG_DEADLINE_MS} ms)`,
    );
  }
  const probeLog = probeCreateLog(run.fixture).slice(logFrom);
  console.info(
    `[database-outage] probes: ${probeResults.join('; ')}; the probe service's access log for them: ${JSON.stringify(probeLog)}`,
  );
  return { probeResults, probeLog };
}

export function expectEveryCallInTime(run: Run): void {
  // Every call ended in time: none hung past its deadline.
  expect(run.calls.filter((c) => took(c) > c.deadlineMs + DEADLINE_MARGIN_MS).map((c) => describeCall(run, c))).toEqual([]);
}

export function expectOnlyAcceptableFailures(run: Run): void {
  // Every failure is UNAVAILABLE (the service's own ERR_SERVICE_UNAVAILABLE) or, for a short
  // call, its deadline.
  const acceptable = (c: Call) =>
    outcomeName(c.outcome) === 'UNAVAILABLE ERR_SERVICE_UNAVAILABLE' ||
    (c.deadlineMs === SHORT_DEADLINE_MS &&
      ['DEADLINE_EXCEEDED (no reason)', 'DEADLINE_EXCEEDED ERR_DEADLINE_EXCEEDED'].includes(outcomeName(c.outcome)));
  expect(failedCalls(run).filter((c) => !acceptable(c)).map((c) => describeCall(run, c))).toEqual([]);
  // The rule for long calls was put to the test in every outage: each outage lasted until
  // OUTAGE_LONG_CALLS long calls sent in it had ended (outages.ts), and at least one of them failed.
  // (Not all of them need to: the validation cache may still answer a long Validate, and a create
  // sent just before the restart may succeed.)
  const longInOutage = (n: number) => run.calls.filter((c) => c.phase === 'outage' && c.outage === n && c.deadlineMs === LONG_DEADLINE_MS);
  expect(
    OUTAGES.map((_, i) => {
      const long = longInOutage(i + 1);
      return { outage: i + 1, enoughEnded: long.length >= OUTAGE_LONG_CALLS, someFailed: long.some((c) => !c.outcome.ok) };
    }),
  ).toEqual(OUTAGES.map((_, i) => ({ outage: i + 1, enoughEnded: true, someFailed: true })));
}

export function expectFailuresOnlyInOutages(run: Run): void {
  const { outageWindows } = run;
  const failed = failedCalls(run);
  // Failures happen only to calls that overlap an outage.
  const overlapsOutage = (c: Call) => outageWindows.some((w) => c.outcome.sentAt <= w.end && c.outcome.doneAt >= w.start);
  expect(failed.filter((c) => !overlapsOutage(c)).map((c) => describeCall(run, c))).toEqual([]);
  // Every outage was felt by the load: some failed call overlaps each outage window. (A call's
  // `outage` tag is the one in progress when it was sent, so a call sent just before a stop that
  // failed during it carries the previous tag.)
  const felt = outageWindows.map((w) => failed.some((c) => c.outcome.sentAt <= w.end && c.outcome.doneAt >= w.start));
  expect(felt).toEqual(OUTAGES.map(() => true));
}

export function expectTheSameServiceProcess(f: Fixture, pid: number | undefined): void {
  // The same service process served throughout.
  expect(f.server!.process.pid).toBe(pid);
  expect(f.server!.process.exitCode).toBe(null);
}

export async function expectNothingAcknowledgedLost(run: Run, dbName: string): Promise<void> {
  const { fixture: f, acked } = run;
  // Nothing acknowledged was lost: every acknowledged create is in the database.
  f.mongo = await MongoClient.connect(mongodUri(f), { promoteBuffers: true });
  const db = f.mongo.db(dbName);
  const violations: string[] = [];
  const caps: [string, number][] = [
    ...[HOT_UID, READER_UID, ...COOL_UIDS].map((uid): [string, number] => [uid, CAP]),
    ...PROBES.flat().map((p): [string, number] => [p.uid, PROBE_CAP]),
  ];
  // Tokens left pending by a copy that mongod's crash cut off are copied by the sweep (every second).
  await pollUntil(
    'no token left pending',
    async () => (await Promise.all(caps.map(async ([uid]) => (await storedState(db, uid)).pendingIds))).flat(),
    (pending) => pending.length === 0,
    { timeoutMs: 15_000, intervalMs: 250 },
  );
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
}

export function expectTheProbesAnsweredByTheirDeadline(probeResults: string[], probeLog: AccessLogEntry[]): void {
  // The calls held in mongod when it crashed got their answer before their deadline (fixture.ts:
  // UNAVAILABLE when held at the update, OK when held at the archive copy), and their handlers in
  // the service ended by then as well (no work left running past a deadline).
  const allProbes = PROBES.flat();
  expect(probeResults.map((r) => r.replace(/ after .*/, ''))).toEqual(allProbes.map((p) => `held at ${p.command}: ${p.expected}`));
  expect(
    probeLog.map((e) => `${e.code} ${e.durationMs <= LONG_DEADLINE_MS + DEADLINE_MARGIN_MS ? 'by its deadline' : `after ${Math.round(e.durationMs)} ms`}`),
  ).toEqual(allProbes.map((p) => `${p.expected.split(' ')[0]} by its deadline`));
}
