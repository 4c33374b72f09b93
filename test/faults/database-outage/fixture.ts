// The database-outage test's settings and the processes it runs (see database-outage.test.ts for
// what the test does): the load's shape, the probes held in mongod mid-call, the outages in order,
// and helpers on the running processes (mongod on its fixed port, grpc_health_probe, the probe
// service's access log).
import type { MongoClient } from 'mongodb';
import { runBinary } from '../../support/go-binaries';
import type { ServerProcess } from '../../support/server-process';
import { type Clients, type MongodProcess, spawnMongod } from '../helpers';

export const REPLICA_SET = 'rs0';
export const CAP = 50;
/** Creates for this uid run at the cap: every one evicts (an update, then the archive copy). */
export const HOT_UID = 'outage-hot';
/** Creates spread over these stay below the cap: one atomic update each. */
export const COOL_UIDS = Array.from({ length: 60 }, (_, i) => `outage-cool-${i}`);
/** Only validated: its tokens, issued before the load, stay active throughout. */
export const READER_UID = 'outage-reader';
export const READER_TOKENS = 10;
export const WORKERS = 6;
/** A worker starts a call at most this often: a steady load, not a busy loop against failures. */
export const PACE_MS = 40;
export const SHORT_DEADLINE_MS = 2_000;
/** Longer than the driver's server selection timeout (5 s) plus a generous margin. */
export const LONG_DEADLINE_MS = 9_000;
export const LONG_SHARE = 0.25;
/** How late after its deadline a call may end: client timers and a loaded 2-core machine. */
export const DEADLINE_MARGIN_MS = 500;
/** Before each outage, and after each recovery, this many successful calls in a row. */
export const HEALTHY_CALLS = 150;
/** During each outage, at least this many failed calls, of which this many long ones, before the restart. */
export const OUTAGE_FAILURES = 30;
export const OUTAGE_LONG_CALLS = 6;

/** The probe service: its own appName (for the fail point) and a cap of 2. */
export const PROBE_APP = 'outage-probe';
export const PROBE_CAP = 2;
export interface Probe {
  /** The command the probe's CreateAuthToken is held at. */
  command: 'insert' | 'findAndModify';
  uid: string;
  deviceId: string;
  /** What the probe's call must answer, by its deadline. */
  expected: 'OK' | 'UNAVAILABLE ERR_SERVICE_UNAVAILABLE';
}
/**
 * A create at the cap (src/storage/mongo-token-store.ts issueToken) is one update of the user's
 * document (findAndModify), then the copy of the evicted token to the archive (insert). Held at its
 * update when mongod crashes, nothing was applied and the call is UNAVAILABLE. Held at its copy,
 * the token was issued (the update was acknowledged by a majority), so the call answers OK once the
 * copy has failed, and the evicted token stays pending in the user's document until the sweep
 * copies it after the restart. One fail point setting holds one kind of command per outage: a
 * probe held at its copy would otherwise be held at its update first.
 */
export const PROBES: Probe[][] = [
  [{ command: 'insert', uid: 'probe-at-copy', deviceId: '', expected: 'OK' }],
  [
    { command: 'findAndModify', uid: 'probe-at-update', deviceId: '', expected: 'UNAVAILABLE ERR_SERVICE_UNAVAILABLE' },
    { command: 'findAndModify', uid: 'probe-replacing', deviceId: 'probe-device', expected: 'UNAVAILABLE ERR_SERVICE_UNAVAILABLE' },
  ],
];
/** Outages in order: a clean stop, then crashes with probes held in mongod. */
export const OUTAGES: { how: 'SIGTERM' | 'SIGKILL'; probes: Probe[] }[] = [
  { how: 'SIGTERM', probes: [] },
  { how: 'SIGKILL', probes: PROBES[0]! },
  { how: 'SIGKILL', probes: PROBES[1]! },
];

export const READINESS = 'authtoken.v1.AuthTokenService';
export const EXIT_SERVING = 0;
export const EXIT_NOT_SERVING = 4;

/**
 * The processes the test runs and where they live: beforeAll fills it in, each outage stops and
 * restarts `mongod`, afterAll stops whatever was started.
 */
export interface Fixture {
  healthProbe?: string;
  mongodBinary?: string;
  dataDir?: string;
  mongodPort?: number;
  /** Undefined while stopped, during an outage. */
  mongod?: MongodProcess;
  /** The test's own connection, for reading the stored state at the end. */
  mongo?: MongoClient;
  /** The service under load. */
  server?: ServerProcess;
  clients?: Clients;
  /** The service whose creates are held in mongod (PROBE_APP, PROBE_CAP). */
  probeServer?: ServerProcess;
  probeClients?: Clients;
}

export function mongodUri(f: Fixture): string {
  return `mongodb://127.0.0.1:${f.mongodPort}/?replicaSet=${REPLICA_SET}`;
}

/** mongod on this file's fixed port and data folder; the replica set config lives in the data. */
export function startMongod(f: Fixture): Promise<MongodProcess> {
  return spawnMongod({
    binary: f.mongodBinary!,
    dataDir: f.dataDir!,
    port: f.mongodPort!,
    args: ['--replSet', REPLICA_SET, '--setParameter', 'enableTestCommands=1'],
  });
}

/** grpc_health_probe's exit code for `service` ('' is liveness) on the load's service. */
export async function probe(f: Fixture, service: string): Promise<number | null> {
  const result = await runBinary(f.healthProbe!, [
    `-addr=127.0.0.1:${f.server!.port}`,
    `-service=${service}`,
    '-connect-timeout=2s',
    '-rpc-timeout=2s',
  ]);
  return result.code;
}

export async function probeBoth(f: Fixture): Promise<{ liveness: number | null; readiness: number | null }> {
  const [liveness, readiness] = await Promise.all([probe(f, ''), probe(f, READINESS)]);
  return { liveness, readiness };
}

export interface AccessLogEntry {
  code: string;
  durationMs: number;
}

/** The access-log lines ("call", or "call failed" with the error for INTERNAL) the probe service has written for CreateAuthToken so far. */
export function probeCreateLog(f: Fixture): AccessLogEntry[] {
  return f.probeServer!
    .output()
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as { msg?: string; method?: string; code: string; durationMs: number; err?: unknown })
    .filter(
      (entry) =>
        (entry.msg === 'call' || entry.msg === 'call failed') &&
        entry.method === 'authtoken.v1.AuthTokenService/CreateAuthToken',
    );
}
