// One attack against one fresh replica, started as `npm run serve` starts it (same node flags and
// allocator setting, API keys on), with what issue 10 asks of it measured around the attack:
// the process stays alive, a legitimate call on another connection succeeds within 1 s all through
// the attack, peak RSS stays at or below 250 MB, and RSS is back within 50 MB of its baseline
// within 30 s of the attacker disconnecting.
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { resolve } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { Metadata } from '@grpc/grpc-js';
import { inject } from 'vitest';
import { generateApiKey, keyEntry } from '../../src/domain/api-keys';
import { memoryOf } from '../support/process-memory';
import { type ServerProcess, startServerProcess } from '../support/server-process';
import type { AttackName, AttackOptions, AttackReport } from './attacker';
import { bearer } from '../support/grpc-status';

export const PEAK_RSS_LIMIT_MB = 250;
export const RECOVERY_MARGIN_MB = 50;
/**
 * After the attack the service is idle, and an idle V8 heap frees its garbage only when a
 * collection runs, which it schedules seconds apart. With 10 s, the slow reader's RSS stayed near
 * its peak (199 MB) in one run of about ten on 2026-12-03, while the others came back to
 * 95-128 MB: most likely garbage not yet collected, though this window cannot tell that apart
 * from memory kept for 10 to 30 s.
 */
const RECOVERY_WINDOW_MS = 30_000;
/** A legitimate call must complete within this, during the attack. */
export const PROBE_DEADLINE_MS = 1_000;
const PROBE_INTERVAL_MS = 200;
/** The attacker process's own limit, should it hang. */
const ATTACKER_LIMIT_MS = 120_000;
const REPO_ROOT = resolve(__dirname, '../..');

export const VICTIM = 'victim';

export interface Outcome {
  attack: AttackReport;
  /** Legitimate calls made while the attack ran, and the ones that failed or were slow. */
  probes: number;
  failedProbes: string[];
  slowestProbeMs: number;
  baselineRssMb: number;
  peakRssMb: number;
  /** RSS when it first came within the margin after the attack, or the last reading if it never did. */
  recoveredRssMb: number;
  recovered: boolean;
  alive: boolean;
}

export interface Target {
  server: ServerProcess;
  key: string;
  metadata: Metadata;
  stop(): Promise<void>;
}

/** A served replica with one full-scope key and the user VICTIM. */
export async function startTarget(): Promise<Target> {
  const key = generateApiKey();
  const server = await startServerProcess(
    {
      MONGODB_URI: inject('mongoUri'),
      MONGODB_DB: `test_hostile_${randomUUID().slice(0, 8)}`,
      API_KEYS: keyEntry('hostile-test', 'full', key),
    },
    { served: true },
  );
  const metadata = bearer(key);
  await server.users.createUser({ uid: VICTIM, name: 'Victim' }, metadata);
  return { server, key, metadata, stop: () => server.stop() };
}

/** Runs `name` against `target` while probing it, then watches memory come back. */
export async function underAttack(target: Target, name: AttackName, options: Partial<AttackOptions> = {}): Promise<Outcome> {
  const { server, metadata } = target;
  const pid = server.process.pid!;
  // Warm up the paths the probes take, so that the baseline includes them.
  for (let i = 0; i < 20; i++) await server.users.getUser({ uid: VICTIM }, metadata);
  const baselineRssMb = memoryOf(pid)!.rssMb;

  const probes = probeWhile(target);
  const attack = await runAttacker(name, { port: server.port, key: target.key, uid: VICTIM, durationMs: 5_000, ...options });
  const { count, failures, slowestMs } = await probes.stop();

  const peakRssMb = memoryOf(pid)?.peakMb ?? NaN;
  let recoveredRssMb = memoryOf(pid)?.rssMb ?? NaN;
  const until = Date.now() + RECOVERY_WINDOW_MS;
  while (!(recoveredRssMb <= baselineRssMb + RECOVERY_MARGIN_MB) && Date.now() < until) {
    await delay(250);
    recoveredRssMb = memoryOf(pid)?.rssMb ?? NaN;
  }
  const alive = server.process.exitCode === null && server.process.signalCode === null;
  return {
    attack,
    probes: count,
    failedProbes: failures,
    slowestProbeMs: slowestMs,
    baselineRssMb,
    peakRssMb,
    recoveredRssMb,
    recovered: recoveredRssMb <= baselineRssMb + RECOVERY_MARGIN_MB,
    alive,
  };
}

/** GetUser with a key, on the target's own connection, every PROBE_INTERVAL_MS until stopped. */
function probeWhile(target: Target) {
  let stopped = false;
  let count = 0;
  let slowestMs = 0;
  const failures: string[] = [];
  const loop = (async () => {
    while (!stopped) {
      const started = performance.now();
      const deadline = new Date(Date.now() + PROBE_DEADLINE_MS);
      try {
        await target.server.users.getUser({ uid: VICTIM }, target.metadata, { deadline });
      } catch (error) {
        failures.push(`${(error as Error).message} (after ${Math.round(performance.now() - started)} ms)`);
      }
      count++;
      slowestMs = Math.max(slowestMs, performance.now() - started);
      await delay(PROBE_INTERVAL_MS);
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
      return { count, failures, slowestMs };
    },
  };
}

function runAttacker(name: AttackName, options: AttackOptions): Promise<AttackReport> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/hostile/attacker.ts', name, JSON.stringify(options)], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: ATTACKER_LIMIT_MS,
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((done, fail) =>
    child.once('exit', (code, signal) =>
      code === 0 ? done(JSON.parse(stdout) as AttackReport) : fail(new Error(`attacker ${name} exited ${code ?? signal}:\n${stderr}`)),
    ),
  );
}
