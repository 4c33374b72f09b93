// Helpers shared by the slow fault-tolerance tests (test/faults). Several of them are the
// test/e2e/concurrency.test.ts and crash.test.ts helpers, generalised: calls with a gRPC deadline
// that resolve to an outcome instead of rejecting, the stored state of a user, invariants on it,
// a seeded PRNG, and cleanup of temporary folders and child processes.
import { pollUntil } from '../support/poll';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { freePort, LISTENING_LOG_ID } from '../../src/embedded-mongod/mongod-process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import {
  type Client,
  credentials,
  Metadata,
  type ServiceDefinition,
  type ServiceError,
  status,
} from '@grpc/grpc-js';
import { type Db, MongoClient } from 'mongodb';
import { AuthTokenServiceClient, AuthTokenServiceService } from '../../gen/authtoken/v1/auth_token_service';
import { UserServiceClient, UserServiceService } from '../../gen/authtoken/v1/user_service';
import type { RequestOf, ResponseOf } from '../../src/grpc/unary';
import { type ArchivedTokenDoc, archivedDocOf, storedOldestFirst, type TokenDoc, type UserDoc } from '../../src/storage/documents';
import { reasonOf } from '../support/grpc-status';

// ---------------------------------------------------------------------------------------------
// Calls with a deadline, resolving to an outcome

export type Outcome<R> =
  | { ok: true; response: R; sentAt: number; doneAt: number }
  | {
      ok: false;
      /** gRPC status code. */
      code: status;
      /** ErrorInfo reason; '' when the status carried none (e.g. a client-side deadline). */
      reason: string;
      details: string;
      sentAt: number;
      doneAt: number;
    };

/** Each method of a generated client as `(request, timeoutMs) => Promise<Outcome>`; never rejects. */
export type DeadlineClient<S extends ServiceDefinition> = {
  [K in keyof S]: (request: Partial<RequestOf<S[K]>>, timeoutMs: number) => Promise<Outcome<ResponseOf<S[K]>>>;
};

function deadlined<S extends ServiceDefinition>(definition: S, client: Client): DeadlineClient<S> {
  const methods: Record<string, unknown> = {};
  for (const [key, method] of Object.entries(definition)) {
    const defaults = method.requestDeserialize(Buffer.alloc(0));
    methods[key] = (request: object, timeoutMs: number) =>
      new Promise((resolve) => {
        const sentAt = performance.now();
        (client as unknown as Record<string, Function>)[key]!.call(
          client,
          { ...defaults, ...request },
          new Metadata(),
          { deadline: Date.now() + timeoutMs },
          (error: ServiceError | null, response: unknown) => {
            const doneAt = performance.now();
            resolve(
              error
                ? { ok: false, code: error.code, reason: reasonOf(error), details: error.details, sentAt, doneAt }
                : { ok: true, response, sentAt, doneAt },
            );
          },
        );
      });
  }
  return methods as DeadlineClient<S>;
}


export interface Clients {
  address: string;
  tokens: DeadlineClient<typeof AuthTokenServiceService>;
  users: DeadlineClient<typeof UserServiceService>;
  close(): void;
}

/** Clients for the service at `127.0.0.1:port` whose calls take a deadline and never reject. */
export function connect(port: number): Clients {
  const address = `127.0.0.1:${port}`;
  const tokenClient = new AuthTokenServiceClient(address, credentials.createInsecure());
  const userClient = new UserServiceClient(address, credentials.createInsecure());
  return {
    address,
    tokens: deadlined(AuthTokenServiceService, tokenClient),
    users: deadlined(UserServiceService, userClient),
    close() {
      tokenClient.close();
      userClient.close();
    },
  };
}

/** "UNAVAILABLE ERR_SERVICE_UNAVAILABLE", "DEADLINE_EXCEEDED (no reason)", "OK". */
export function outcomeName(outcome: Outcome<unknown>): string {
  if (outcome.ok) return 'OK';
  return `${status[outcome.code]} ${outcome.reason || '(no reason)'}`;
}

/** Counts of each distinct value, sorted by value, e.g. { 'OK': 10, 'UNAVAILABLE ...': 2 }. */
export function tally(values: Iterable<string>): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const v of values) counts[v] = (counts[v] ?? 0) + 1;
  return Object.fromEntries(Object.entries(counts).sort(([a], [b]) => a.localeCompare(b)));
}

// ---------------------------------------------------------------------------------------------
// Stored state and invariants

export interface StoredState {
  /** Active tokens as stored in the user document (oldest first, as storage keeps them). */
  active: TokenDoc[];
  /**
   * Archived tokens: those copied to archived_tokens, and those still pending in the user document
   * (storage/pending-archive.ts; the same token may be in both between its copy and its removal).
   */
  archived: ArchivedTokenDoc[];
  /** Ids of the tokens still pending their copy. */
  pendingIds: string[];
}

export async function storedState(db: Db, uid: string): Promise<StoredState> {
  const user = await db.collection<UserDoc>('users').findOne({ _id: uid });
  if (!user) throw new Error(`user ${uid} is not in the database`);
  const copied = await db.collection<ArchivedTokenDoc>('archived_tokens').find({ uid }).toArray();
  const copiedIds = new Set(copied.map((a) => a._id));
  const pending = (user.pending ?? []).map(archivedDocOf);
  return { active: user.tokens, archived: [...copied, ...pending.filter((p) => !copiedIds.has(p._id))], pendingIds: pending.map((p) => p._id) };
}

/** Oldest first, as storage orders a user's tokens. */
export const oldestFirst = storedOldestFirst;

/** The values that occur more than once. */
export function duplicates(values: Iterable<string>): string[] {
  const seen = new Set<string>();
  const twice = new Set<string>();
  for (const v of values) (seen.has(v) ? twice : seen).add(v);
  return [...twice].sort();
}

/**
 * Invariants of one user's stored tokens that hold whatever happened to the service: returns a
 * list of human-readable violations (empty when all hold).
 *  - at most `cap` active tokens, no token id twice among them, none without an id;
 *  - no token id twice in the archive, none both active and archived;
 *  - the user document keeps its tokens oldest first ($slice: -cap relies on it);
 *  - every EVICTED token is older than every active token (the cap drops the oldest).
 */
export function stateViolations(uid: string, state: StoredState, cap: number): string[] {
  const out: string[] = [];
  const activeIds = state.active.map((t) => t.id);
  const archivedIds = state.archived.map((a) => a._id);
  if (state.active.length > cap) out.push(`${uid}: ${state.active.length} active tokens > cap ${cap}`);
  for (const id of duplicates(activeIds)) out.push(`${uid}: ${id} active twice`);
  for (const id of duplicates(archivedIds)) out.push(`${uid}: ${id} archived twice`);
  const archivedSet = new Set(archivedIds);
  for (const id of activeIds) if (archivedSet.has(id)) out.push(`${uid}: ${id} both active and archived`);
  const sorted = [...state.active].sort(oldestFirst).map((t) => t.id);
  if (sorted.join() !== activeIds.join()) out.push(`${uid}: active tokens not stored oldest first`);
  const oldestActive = [...state.active].sort(oldestFirst)[0];
  if (oldestActive) {
    for (const a of state.archived) {
      if (a.reason !== 'EVICTED') continue;
      if (oldestFirst({ id: a._id, createTime: a.createTime }, oldestActive) > 0) {
        out.push(
          `${uid}: evicted ${a._id} (created ${a.createTime.toISOString()}) is newer than active ` +
            `${oldestActive.id} (created ${oldestActive.createTime.toISOString()})`,
        );
      }
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Concurrency, randomness, timing

/** Runs `work` over `items` with at most `limit` running at once. */
export async function pool<T, R>(items: T[], limit: number, work: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await work(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/** mulberry32: a small seeded PRNG, uniform in [0, 1). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The seed for a test's PRNG: FAULTS_SEED when set (to replay a run), else `fallback`. */
export function faultsSeed(fallback: number): number {
  const given = process.env.FAULTS_SEED;
  if (given === undefined || given === '') return fallback;
  const seed = Number(given);
  if (!Number.isInteger(seed)) throw new Error(`FAULTS_SEED must be an integer, got ${given}`);
  return seed;
}

/** Milliseconds since `start` (a performance.now() value), rounded. */
export function since(start: number): number {
  return Math.round(performance.now() - start);
}

/** Percentile `p` (0..1) of `values`, or NaN when empty. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

// ---------------------------------------------------------------------------------------------
// Temporary folders, ports and mongod processes

export { freePort, pollUntil };

/** Temporary folders made by this test file; removed by `removeTempDirs` in afterAll. */
const tempDirs: string[] = [];

export async function tempDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  tempDirs.push(dir);
  return dir;
}

export async function removeTempDirs(): Promise<void> {
  await Promise.allSettled(tempDirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
}

export interface MongodProcess {
  port: number;
  host: string;
  process: ChildProcess;
  /** The last lines mongod wrote, for diagnostics. */
  output(): string;
  /** SIGTERM (clean shutdown), SIGKILL after `graceMs`; resolves once it has exited. */
  stop(graceMs?: number): Promise<void>;
}

/** Every mongod spawned here, so none outlives the test worker. */
const mongods = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of mongods) child.kill('SIGKILL');
});

/**
 * Spawns a mongod (not initiated) and resolves once it waits for connections. For replica sets of
 * several members, which src/embedded-mongod/ (single-member "rs0") does not make.
 */
export async function spawnMongod(options: {
  binary: string;
  dataDir: string;
  port: number;
  args: string[];
}): Promise<MongodProcess> {
  const child = spawn(
    options.binary,
    ['--dbpath', options.dataDir, '--port', String(options.port), '--bind_ip', '127.0.0.1', ...options.args],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  mongods.add(child);
  const tail: string[] = [];
  const remember = (line: string) => {
    tail.push(line);
    if (tail.length > 50) tail.shift();
  };
  const exited = new Promise<void>((done) =>
    child.once('exit', (code, signal) => {
      mongods.delete(child);
      remember(`[mongod exited: code ${code}, signal ${signal}]`);
      done();
    }),
  );
  createInterface({ input: child.stderr! }).on('line', remember);
  const listening = new Promise<void>((resolve) =>
    createInterface({ input: child.stdout! }).on('line', (line) => {
      remember(line);
      if (line.includes(`"id":${LISTENING_LOG_ID},`)) resolve();
    }),
  );
  const output = () => tail.join('\n');
  const outcome = await Promise.race([listening.then(() => 'listening' as const), exited.then(() => 'exited' as const)]);
  if (outcome === 'exited') throw new Error(`mongod on port ${options.port} exited before listening:\n${output()}`);
  const running = () => child.exitCode === null && child.signalCode === null;
  return {
    port: options.port,
    host: `127.0.0.1:${options.port}`,
    process: child,
    output,
    async stop(graceMs = 30_000) {
      if (!running()) return;
      child.kill('SIGTERM');
      let timer: NodeJS.Timeout | undefined;
      const tooSlow = new Promise<'too slow'>((done) => {
        timer = setTimeout(() => done('too slow'), graceMs);
      });
      const result = await Promise.race([exited.then(() => 'exited' as const), tooSlow]);
      clearTimeout(timer);
      if (result === 'too slow' && running()) child.kill('SIGKILL');
      await exited;
    },
  };
}

/** Initiates replica set `name` with `hosts` as its members (the first is asked to initiate). */
export async function initiateReplicaSet(name: string, hosts: string[], settings: Record<string, unknown> = {}): Promise<void> {
  const direct = new MongoClient(`mongodb://${hosts[0]}/?directConnection=true`);
  try {
    await direct.db('admin').command({
      replSetInitiate: { _id: name, members: hosts.map((host, i) => ({ _id: i, host })), settings },
    });
  } finally {
    await direct.close();
  }
}

/** Resolves with the primary's host once replica set `name` on `hosts` has one that accepts writes. */
export async function waitForPrimary(name: string, hosts: string[], timeoutMs = 60_000): Promise<string> {
  const client = new MongoClient(`mongodb://${hosts.join(',')}/?replicaSet=${name}`, { serverSelectionTimeoutMS: timeoutMs });
  try {
    const hello = await client.db('admin').command({ hello: 1 }, { readPreference: 'primary' });
    // A primary that has just been elected may still be draining; a majority write proves it writable.
    await client.db('faults_probe').collection('probe').insertOne({ at: new Date() }, { writeConcern: { w: 'majority' } });
    return hello.me as string;
  } finally {
    await client.close();
  }
}
