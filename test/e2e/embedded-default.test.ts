// The embedded default, as `npm start` runs it: no MONGODB_URI, so the service starts its own
// mongod with data in a local folder, keeps the data across restarts, stops mongod on exit, and
// stops a mongod that a killed service left behind.
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { startServerProcess } from '../support/server-process';

let dataDir: string;
beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'authtoken-embedded-'));
});
afterAll(async () => {
  for (const pid of mongodsUsing(dataDir)) process.kill(Number(pid), 'SIGKILL'); // only if a test failed
  await rm(dataDir, { recursive: true, force: true });
});

/** mongod processes whose command line names this data folder. */
function mongodsUsing(dir: string): string[] {
  try {
    return execFileSync('pgrep', ['-f', `mongod --dbpath ${dir}`], { encoding: 'utf8' }).trim().split('\n');
  } catch {
    return []; // pgrep exits 1 when nothing matches
  }
}

const embeddedEnv = () => ({ MONGODB_URI: '', EMBEDDED_MONGOD_DATA_DIR: dataDir });

test('starts its own mongod, keeps data across restarts, and stops mongod on SIGTERM', async () => {
  const first = await startServerProcess(embeddedEnv());
  expect(first.output()).toContain('"msg":"embedded mongod started"');
  expect(mongodsUsing(dataDir)).toHaveLength(1);
  await first.users.createUser({ uid: 'kept', name: 'Kept' });
  await first.stop();
  expect(first.process.exitCode).toBe(0);
  expect(mongodsUsing(dataDir)).toEqual([]);

  const second = await startServerProcess(embeddedEnv());
  try {
    expect((await second.users.getUser({ uid: 'kept' })).name).toBe('Kept');
  } finally {
    await second.stop();
  }
  expect(mongodsUsing(dataDir)).toEqual([]);
});

test('a start that fails after mongod is up leaves no mongod running', async () => {
  const taken: Server = await new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => resolve(server));
  });
  const port = (taken.address() as { port: number }).port;
  try {
    await expect(startServerProcess({ ...embeddedEnv(), PORT: String(port) })).rejects.toThrow(/exited before listening/);
    expect(mongodsUsing(dataDir)).toEqual([]);
  } finally {
    taken.close();
  }
});

test('after the service is SIGKILLed, its orphaned mongod is shut down cleanly by the next start, which keeps the data', async () => {
  const killed = await startServerProcess(embeddedEnv());
  await killed.users.createUser({ uid: 'survivor', name: 'Survivor' });
  await killed.kill('SIGKILL');
  const [orphan] = mongodsUsing(dataDir);
  expect(orphan, 'the killed service could not stop its mongod').toBeDefined();

  const next = await startServerProcess(embeddedEnv());
  try {
    expect(next.output()).toContain(`"pid":${orphan},"msg":"stopped a mongod left running on the data folder by an earlier process"`);
    expect((await next.users.getUser({ uid: 'survivor' })).name).toBe('Survivor');
    expect(mongodsUsing(dataDir)).toHaveLength(1);
    expect(mongodsUsing(dataDir)).not.toContain(orphan);
  } finally {
    await next.stop();
  }
  expect(mongodsUsing(dataDir)).toEqual([]);
});
