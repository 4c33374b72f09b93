// Health checking as Kubernetes sees it: the real grpc_health_probe against the real service,
// with a mongod of its own that this file stops and restarts on the same address and data folder.
//
// grpc_health_probe exit codes (its README): 0 SERVING, 1 bad flags, 2 connection failure,
// 3 RPC failure (NOT_FOUND for an unknown service is one), 4 the service is not SERVING.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { ensureGoTool } from '../../scripts/go-tools';
import { mongodBinary as cachedMongodBinary } from '../support/mongod';
import { type EmbeddedMongod, freePort, startEmbeddedMongod } from '../../src/embedded-mongod/mongod-process';
import { type RunResult, runBinary } from '../support/go-binaries';
import { pollUntil } from '../support/poll';
import { startTestService, type TestService } from '../support/service';

const LIVENESS = '';
const READINESS = ['authtoken.v1.AuthTokenService', 'authtoken.v1.UserService'];

const EXIT_SERVING = 0;
const EXIT_RPC_FAILURE = 3;
const EXIT_UNHEALTHY = 4;

let probeBinary: string;
let mongodBinary: string;
let dataDir: string;
let mongodPort: number;
let mongod: EmbeddedMongod | undefined;
let svc: TestService | undefined;

function probe(service: string): Promise<RunResult> {
  return runBinary(probeBinary, [
    `-addr=127.0.0.1:${svc!.port}`,
    `-service=${service}`,
    '-connect-timeout=2s',
    '-rpc-timeout=2s',
  ]);
}

async function probeAll(): Promise<Record<string, number | null>> {
  const results = await Promise.all([LIVENESS, ...READINESS].map(probe));
  return Object.fromEntries([LIVENESS, ...READINESS].map((name, i) => [name, results[i]!.code]));
}

/** Every readiness service reports `code` (liveness must stay SERVING throughout). */
function readinessIs(code: number) {
  return (codes: Record<string, number | null>) =>
    codes[LIVENESS] === EXIT_SERVING && READINESS.every((name) => codes[name] === code);
}

function startMongod(): Promise<EmbeddedMongod> {
  return startEmbeddedMongod({ binary: mongodBinary, dataDir, port: mongodPort });
}

beforeAll(async () => {
  // The first build of the probe (go install) can take a minute or two.
  [probeBinary, mongodBinary] = await Promise.all([
    ensureGoTool('grpc-health-probe'),
    cachedMongodBinary(),
  ]);
  dataDir = await mkdtemp(join(tmpdir(), 'authtoken-health-mongod-'));
  mongodPort = await freePort();
  mongod = await startMongod();
  svc = await startTestService({ MONGODB_URI: mongod.uri });
}, 300_000);

afterAll(async () => {
  await svc?.stop();
  await mongod?.stop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
}, 120_000);

test('liveness and both readiness services are SERVING once the database has answered', async () => {
  // Readiness is reported after the first database ping, which runs asynchronously after start-up.
  const { result } = await pollUntil('readiness SERVING', probeAll, readinessIs(EXIT_SERVING), {
    timeoutMs: 15_000 });
  expect(result).toEqual({
    '': EXIT_SERVING,
    'authtoken.v1.AuthTokenService': EXIT_SERVING,
    'authtoken.v1.UserService': EXIT_SERVING,
  });
  const liveness = await probe(LIVENESS);
  expect(liveness.code).toBe(EXIT_SERVING);
  // The probe reports on stderr (Go's log package), stdout stays empty.
  expect(liveness.stderr.trim()).toBe('status: SERVING');
  expect(liveness.stdout).toBe('');
});

test('an unknown service name is an RPC failure (NOT_FOUND), exit 3', async () => {
  const unknown = await probe('authtoken.v1.NoSuchService');
  expect(unknown.code).toBe(EXIT_RPC_FAILURE);
  expect(unknown.stderr.trim()).toBe(
    'error: health rpc failed: rpc error: code = NotFound desc = Unknown service name; this server reports the health of "", ' +
      '"authtoken.v1.AuthTokenService", "authtoken.v1.UserService".',
  );
});

test('readiness goes NOT_SERVING (exit 4) when mongod stops, while liveness stays SERVING', async () => {
  const stopping = performance.now();
  await mongod!.stop();
  console.info(`mongod stopped in ${Math.round(performance.now() - stopping)} ms`);
  mongod = undefined;
  const stoppedAt = performance.now();

  const { result, elapsedMs } = await pollUntil('readiness NOT_SERVING', probeAll, readinessIs(EXIT_UNHEALTHY), {
    timeoutMs: 15_000 });
  console.info(`NOT_SERVING reported ${Math.round(performance.now() - stoppedAt)} ms after mongod stopped`);
  // Health pings run every 1 s and give up after 2 s: the change must show within about 3 s
  // (plus a probe round), not after the driver's 5 s server selection timeout or later.
  expect(elapsedMs).toBeLessThan(5_000);
  expect(result).toEqual({
    '': EXIT_SERVING,
    'authtoken.v1.AuthTokenService': EXIT_UNHEALTHY,
    'authtoken.v1.UserService': EXIT_UNHEALTHY,
  });
  const notServing = await probe(READINESS[0]!);
  expect(notServing.code).toBe(EXIT_UNHEALTHY);
  expect(notServing.stderr.trim()).toBe('service unhealthy (responded with "NOT_SERVING")');
});

test('readiness returns to SERVING when mongod is back on the same address, without restarting the service', async () => {
  const portBefore = svc!.port;
  mongod = await startMongod();
  const restartedAt = performance.now();
  expect(mongod.uri).toBe(`mongodb://127.0.0.1:${mongodPort}/?replicaSet=rs0`);

  const { result } = await pollUntil('readiness SERVING again', probeAll, readinessIs(EXIT_SERVING), {
    timeoutMs: 30_000 });
  console.info(`SERVING again ${Math.round(performance.now() - restartedAt)} ms after mongod restarted`);
  expect(result).toEqual({
    '': EXIT_SERVING,
    'authtoken.v1.AuthTokenService': EXIT_SERVING,
    'authtoken.v1.UserService': EXIT_SERVING,
  });
  expect(svc!.port).toBe(portBefore);
  // And the same service instance serves calls again.
  const created = await svc!.users.createUser({ uid: 'after-restart', name: 'After restart' });
  expect(created.user?.uid).toBe('after-restart');
});
