// `npm start` is what a new user runs and what a process manager, `timeout` or a CI step signals:
// the npm process itself must end with the service, cleanly (exit 0), leaving neither node nor
// the embedded mongod behind.
import { readdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { processStat } from '../../src/embedded-mongod/leftover-mongod';
import { startServerProcess } from '../support/server-process';

/** The service stops in about a second; far beyond that, it is not going to. */
const STOP_LIMIT_MS = 30_000;

let dataDir: string;
beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'authtoken-npm-start-'));
});
afterAll(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

/** Every process below `pid`, from /proc. */
function descendantsOf(pid: number): number[] {
  const parentOf = new Map<number, number>();
  for (const entry of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    const stat = processStat(Number(entry)); // undefined if gone since the listing
    if (stat) parentOf.set(Number(entry), stat.parent);
  }
  const found: number[] = [];
  for (let frontier = [pid]; frontier.length > 0; ) {
    frontier = [...parentOf].filter(([, parent]) => frontier.includes(parent)).map(([child]) => child);
    found.push(...frontier);
  }
  return found;
}

/** Those of `pids` still running (not gone, not a zombie). */
function stillRunning(pids: number[]): number[] {
  return pids.filter((pid) => {
    const stat = processStat(pid);
    return stat !== undefined && stat.state !== 'Z';
  });
}

test.each(['SIGTERM', 'SIGINT'] as const)('%s to the npm start process: the service stops, npm exits 0, nothing is left running', async (signal) => {
  const started = await startServerProcess({ MONGODB_URI: '', EMBEDDED_MONGOD_DATA_DIR: dataDir }, { npmStart: true });
  const tree = descendantsOf(started.process.pid!);
  try {
    await expect(started.users.createUser({ uid: `via-npm-start-${signal.toLowerCase()}`, name: 'N' })).resolves.toBeDefined();
    expect(tree.length, 'node and mongod run below npm').toBeGreaterThanOrEqual(2);
    // Bounded, so that a signal npm ignores fails here rather than at the test timeout.
    await Promise.race([started.kill(signal), delay(STOP_LIMIT_MS)]);
    expect([started.process.exitCode, started.process.signalCode], started.output()).toEqual([0, null]);
    expect(started.output()).toContain(`"signal":"${signal}","msg":"shutting down"`);
    expect(stillRunning(tree), 'processes left behind').toEqual([]);
  } finally {
    for (const pid of stillRunning(tree)) process.kill(pid, 'SIGKILL');
  }
}, 120_000);
