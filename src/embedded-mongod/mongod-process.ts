// The embedded default: a real mongod (mongod-binary.ts) run as a single-node replica set, so
// change streams work, on a free loopback port; started and stopped by the composition root only.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { createServer } from 'node:net';
import { createInterface } from 'node:readline';
import { MongoClient } from 'mongodb';

const REPLICA_SET = 'rs0';
const NOT_YET_INITIALIZED = 94;
const ALREADY_INITIALIZED = 23;
/** mongod's structured log id for "Waiting for connections" (test/faults/helpers.ts waits for it too). */
export const LISTENING_LOG_ID = 23016;

export interface EmbeddedMongod {
  uri: string;
  /** Its loopback port, e.g. to start it again on the same address. */
  port: number;
  stop(): Promise<void>;
}


/**
 * Starts mongod on a free loopback port with its data in `dataDir`, as a single-node replica set,
 * and resolves once it accepts writes.
 */
/** How long the embedded mongod keeps events for watches to resume from, at least. */
const OPLOG_MIN_RETENTION_HOURS = 24;

export async function startEmbeddedMongod(options: {
  binary: string;
  dataDir: string;
  /** A fixed port, e.g. to restart on the same address; by default a free one. */
  port?: number;
  /** Extra mongod arguments, e.g. test-only `--setParameter` flags. */
  extraArgs?: string[];
}): Promise<EmbeddedMongod> {
  await mkdir(options.dataDir, { recursive: true });
  const port = options.port ?? (await freePort());
  const host = `127.0.0.1:${port}`;
  const child = spawn(
    options.binary,
    ['--dbpath', options.dataDir, '--port', String(port), '--bind_ip', '127.0.0.1', '--replSet', REPLICA_SET,
      // The oplog is where watches resume from (WatchAuthTokenEvents): keep at least a day of it,
      // whatever its size.
      '--oplogMinRetentionHours', String(OPLOG_MIN_RETENTION_HOURS),
      ...(options.extraArgs ?? [])],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  try {
    await waitUntilListening(child, exited);
    await initiateReplicaSet(host);
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }
  return {
    uri: `mongodb://${host}/?replicaSet=${REPLICA_SET}`,
    port,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

async function waitUntilListening(child: ChildProcess, exited: Promise<number | null>): Promise<void> {
  const tail: string[] = [];
  const listening = new Promise<void>((resolve) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      tail.push(line);
      if (tail.length > 20) tail.shift();
      if (line.includes(`"id":${LISTENING_LOG_ID},`)) resolve();
    });
  });
  child.stderr!.on('data', (chunk: Buffer) => tail.push(chunk.toString()));
  const code = await Promise.race([listening.then(() => undefined), exited]);
  if (code !== undefined) throw new Error(`mongod exited with code ${code}:\n${tail.join('\n')}`);
}

/** Initiates the replica set, or repoints it at this port when reusing a data folder. */
async function initiateReplicaSet(host: string): Promise<void> {
  const direct = new MongoClient(`mongodb://${host}/?directConnection=true`);
  try {
    const admin = direct.db('admin');
    // Just after start-up, a node reusing a data folder may still be loading its config: it says
    // NotYetInitialized, yet refuses replSetInitiate with AlreadyInitialized. Ask again until the
    // two agree (bounded: mongod answers within seconds).
    for (let attempt = 0; ; attempt++) {
      const current = await admin.command({ replSetGetConfig: 1 }).catch((error: { code?: number }) => {
        if (error.code === NOT_YET_INITIALIZED) return undefined;
        throw error;
      });
      if (current) {
        if (current.config.members[0].host !== host) {
          const config = { ...current.config, version: current.config.version + 1, members: [{ _id: 0, host }] };
          await admin.command({ replSetReconfig: config, force: true });
        }
        break;
      }
      const initiated = await admin
        .command({ replSetInitiate: { _id: REPLICA_SET, members: [{ _id: 0, host }] } })
        .then(() => true, (error: { code?: number }) => {
          if (error.code === ALREADY_INITIALIZED && attempt < 100) return false;
          throw error;
        });
      if (initiated) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  } finally {
    await direct.close();
  }
  // Resolves once the node has become primary: the driver waits for a writable server.
  const replicaSet = new MongoClient(`mongodb://${host}/?replicaSet=${REPLICA_SET}`, {
    serverSelectionTimeoutMS: 60_000,
  });
  try {
    await replicaSet.db('admin').command({ ping: 1 }, { readPreference: 'primary' });
  } finally {
    await replicaSet.close();
  }
}

/** A port that was free a moment ago, on loopback. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}
