// The embedded default, as `npm start` runs it: no MONGODB_URI, so the service starts its own
// mongod with data in a local folder, keeps the data across restarts, and stops mongod on exit.
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
