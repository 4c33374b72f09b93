// A service process that is killed (SIGKILL, the OOM killer, a heap out-of-memory) cannot stop its
// embedded mongod, which keeps running, orphaned, and holds the data folder's lock: the next start
// would fail with "mongod exited with code 100". mongod records its pid in <dbpath>/mongod.lock
// (emptied on a clean shutdown); a process with that pid whose command line is a mongod on this
// very folder is the one left behind, and is shut down cleanly (SIGTERM) before a new one starts.
// Linux only (/proc), as is the embedded mongod build.
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';

/** A clean shutdown flushes and closes the data files; bounded so a wedged mongod fails the start. */
const SHUTDOWN_LIMIT_MS = 60_000;
const EXIT_POLL_MS = 100;

/** Stops a mongod left running on `dataDir`, if there is one; resolves with its pid once it has exited. */
export async function stopLeftoverMongod(dataDir: string): Promise<number | undefined> {
  const pid = Number((await readFile(join(dataDir, 'mongod.lock'), 'utf8').catch(() => '')).trim());
  if (!Number.isInteger(pid) || pid <= 0 || !(await isMongodOn(pid, dataDir))) return undefined;
  process.kill(pid, 'SIGTERM');
  // Not our child, so there is no exit event to wait for: watch /proc until it is gone.
  for (const giveUpAt = Date.now() + SHUTDOWN_LIMIT_MS; isRunning(pid); ) {
    if (Date.now() > giveUpAt) {
      throw new Error(`mongod (pid ${pid}) left running on ${dataDir} did not stop within ${SHUTDOWN_LIMIT_MS / 1000} s of SIGTERM`);
    }
    await delay(EXIT_POLL_MS);
  }
  return pid;
}

async function isMongodOn(pid: number, dataDir: string): Promise<boolean> {
  const argv = (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).split('\0');
  const at = argv.indexOf('--dbpath');
  return basename(argv[0] ?? '') === 'mongod' && at > 0 && resolve(argv[at + 1] ?? '') === resolve(dataDir);
}

/** Running, not a zombie waiting for a parent to reap it. */
function isRunning(pid: number): boolean {
  const stat = processStat(pid);
  return stat !== undefined && stat.state !== 'Z';
}

/** USER_HZ: 100 on every Linux this runs on. */
const CLOCK_TICKS = 100;

/** A process's state letter, parent pid and CPU time so far, from /proc/<pid>/stat; undefined once it is gone. */
export function processStat(pid: number): { state: string; parent: number; cpuMs: number } | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // After the parenthesised command name (which may hold spaces): state (field 3), parent pid (4),
  // and at fields 14 and 15 the user and system CPU time in clock ticks.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const cpuTicks = Number(fields[11]) + Number(fields[12]);
  return { state: fields[0] ?? '', parent: Number(fields[1]), cpuMs: (cpuTicks * 1000) / CLOCK_TICKS };
}
