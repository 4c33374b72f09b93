// A pod whose database is down at start-up must not crash-loop: the service starts, reports
// not-ready (but alive), answers UNAVAILABLE, and becomes ready once the database appears.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { credentials, status } from '@grpc/grpc-js';
import { afterAll, expect, test } from 'vitest';
import { HealthCheckResponse_ServingStatus as Serving, HealthClient } from '../../gen/health/v1/health';
import { mongodBinary } from '../support/mongod';
import { type EmbeddedMongod, freePort, startEmbeddedMongod } from '../../src/embedded-mongod/mongod-process';
import { pollUntil } from '../support/poll';
import { startTestService, type TestService } from '../support/service';
import { grpcError } from '../support/grpc-status';

let svc: TestService | undefined;
let mongod: EmbeddedMongod | undefined;
let dataDir: string | undefined;
let health: InstanceType<typeof HealthClient> | undefined;

afterAll(async () => {
  health?.close();
  await svc?.stop();
  await mongod?.stop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

function check(service: string): Promise<Serving> {
  return new Promise((resolve, reject) =>
    health!.check({ service }, (error, response) => (error ? reject(error) : resolve(response.status))),
  );
}

test('starts without its database, serves not-ready and UNAVAILABLE, then becomes ready', async () => {
  const port = await freePort();
  svc = await startTestService({ MONGODB_URI: `mongodb://127.0.0.1:${port}/?replicaSet=rs0` }, { untilReady: false });
  health = new HealthClient(`127.0.0.1:${svc.port}`, credentials.createInsecure());

  expect(await check('')).toBe(Serving.SERVING);
  expect(await check('authtoken.v1.AuthTokenService')).toBe(Serving.NOT_SERVING);
  const error = await grpcError(svc.users.getUser({ uid: 'anyone' }));
  expect(error.code).toBe(status.UNAVAILABLE);
  expect(error.reason).toBe('ERR_SERVICE_UNAVAILABLE');

  dataDir = await mkdtemp(join(tmpdir(), 'authtoken-late-mongod-'));
  const binary = await mongodBinary();
  mongod = await startEmbeddedMongod({ binary, dataDir, port });

  // Bounded wait for an external condition: the service's own once-a-second database check.
  await pollUntil('readiness SERVING', () => check('authtoken.v1.AuthTokenService'), (s) => s === Serving.SERVING, {
    timeoutMs: 30_000 });
  const created = await svc.users.createUser({ uid: 'late', name: 'Late' });
  expect(created.user?.uid).toBe('late');
});
