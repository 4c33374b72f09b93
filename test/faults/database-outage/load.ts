// The database-outage test's load: WORKERS paced workers sending CreateAuthToken and
// ValidateAuthToken calls with short or long deadlines, each call recorded with the phase of the
// test it was sent in, and a way to wait for a condition on the calls made so far.
import type { Outcome } from '../helpers';
import { since } from '../helpers';
import {
  COOL_UIDS,
  type Fixture,
  HOT_UID,
  LONG_DEADLINE_MS,
  LONG_SHARE,
  PACE_MS,
  SHORT_DEADLINE_MS,
  WORKERS,
} from './fixture';

export type Phase = 'healthy' | 'outage' | 'recovering' | 'recovered';
export type Kind = 'create-hot' | 'create-cool' | 'validate';

export interface Call {
  kind: Kind;
  deadlineMs: number;
  /** Phase when the call was sent, and the outage it belongs to (1-based; 0 before the first). */
  phase: Phase;
  outage: number;
  outcome: Outcome<unknown>;
}

/** Each acknowledged create's token id: its user, and when it was sent. */
export type Acked = Map<string, { uid: string; outage: number; phase: Phase }>;

/** A probe's create held in a transaction when mongod was crashed, and its outcome to come. */
export interface HeldProbe {
  name: string;
  outage: number;
  crashedAt: number;
  outcome: Promise<Outcome<unknown>>;
}

/** The run under way: what the workers have done, the phase they are in, and what the test saw. */
export interface Run {
  fixture: Fixture;
  readerSecrets: string[];
  calls: Call[];
  acked: Acked;
  /** From each stop of mongod until readiness is SERVING again (performance.now()). */
  outageWindows: { start: number; end: number }[];
  phase: Phase;
  outage: number;
  stopping: boolean;
  /** Wakes whoever waits for a condition on the calls made so far. */
  onCall: (() => void) | undefined;
  consecutiveOk: number;
  timeline: string[];
  t0: number;
  probes: HeldProbe[];
}

/** A run about to start (its timeline counts from now), after the setup recorded in `acked`. */
export function newRun(fixture: Fixture, acked: Acked, readerSecrets: string[]): Run {
  return {
    fixture,
    readerSecrets,
    calls: [],
    acked,
    outageWindows: [],
    phase: 'healthy',
    outage: 0,
    stopping: false,
    onCall: undefined,
    consecutiveOk: 0,
    timeline: [],
    t0: performance.now(),
    probes: [],
  };
}

export function mark(run: Run, event: string): void {
  run.timeline.push(`${since(run.t0)} ms ${event}`);
}

/** Starts the workers; resolves once they have stopped (`run.stopping`). */
export function startLoad(run: Run): Promise<void[]> {
  // Workers pace their calls (PACE_MS) to make a steady load; nothing waits on a fixed time.
  return Promise.all(Array.from({ length: WORKERS }, (_, w) => worker(run, w)));
}

async function worker(run: Run, w: number): Promise<void> {
  const { tokens } = run.fixture.clients!;
  for (let i = 0; !run.stopping; i++) {
    const started = performance.now();
    const r = Math.random();
    const kind: Kind = r < 0.4 ? 'validate' : r < 0.7 ? 'create-hot' : 'create-cool';
    const deadlineMs = Math.random() < LONG_SHARE ? LONG_DEADLINE_MS : SHORT_DEADLINE_MS;
    const sentPhase = run.phase;
    const sentOutage = run.outage;
    let outcome: Outcome<unknown>;
    if (kind === 'validate') {
      const secret = run.readerSecrets[Math.floor(Math.random() * run.readerSecrets.length)]!;
      outcome = await tokens.validateAuthToken({ authToken: secret }, deadlineMs);
    } else {
      const uid = kind === 'create-hot' ? HOT_UID : COOL_UIDS[(w * 7 + i) % COOL_UIDS.length]!;
      const created = await tokens.createAuthToken({ uid }, deadlineMs);
      if (created.ok) run.acked.set(created.response.authToken!.tokenId, { uid, outage: sentOutage, phase: sentPhase });
      outcome = created;
    }
    run.calls.push({ kind, deadlineMs, phase: sentPhase, outage: sentOutage, outcome });
    run.consecutiveOk = outcome.ok ? run.consecutiveOk + 1 : 0;
    run.onCall?.();
    const wait = PACE_MS - (performance.now() - started);
    if (wait > 0) await new Promise((wake) => setTimeout(wake, wait));
  }
}

/** Resolves once `condition` holds, re-checked after every call (bounded by `limitMs`). */
export function untilCalls(run: Run, what: string, condition: () => boolean, limitMs = 120_000): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      run.onCall = undefined;
      reject(new Error(`not within ${limitMs} ms: ${what}`));
    }, limitMs);
    const check = () => {
      if (!condition()) return;
      clearTimeout(timer);
      run.onCall = undefined;
      resolve();
    };
    run.onCall = check;
    check();
  });
}
