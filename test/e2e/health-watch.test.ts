// health Watch as a client-side health checker uses it: the current status at once, then each
// change, here readiness going NOT_SERVING as the service shuts down.
import { credentials, Metadata } from '@grpc/grpc-js';
import { expect, test } from 'vitest';
import { HealthCheckResponse_ServingStatus as Serving, HealthClient } from '../../gen/health/v1/health';
import { pollUntil } from '../support/poll';
import { startTestService } from '../support/service';

test('a Watch of readiness sees SERVING, then NOT_SERVING when the service stops, then its stream ends', async () => {
  const svc = await startTestService();
  const client = new HealthClient(`127.0.0.1:${svc.port}`, credentials.createInsecure());
  const check = () =>
    new Promise<number>((resolve, reject) =>
      client.check({ service: 'authtoken.v1.AuthTokenService' }, (error, response) => (error ? reject(error) : resolve(response.status))),
    );
  await pollUntil('readiness', check, (status) => status === Serving.SERVING, { timeoutMs: 10_000 });

  const seen: number[] = [];
  const watch = client.watch({ service: 'authtoken.v1.AuthTokenService' }, new Metadata());
  const ended = new Promise<void>((done) => {
    watch.on('error', () => done());
    watch.on('end', () => done());
  });
  await new Promise<void>((first) =>
    watch.on('data', (response: { status: number }) => {
      seen.push(response.status);
      first();
    }),
  );
  await svc.stop();
  await ended;
  client.close();
  expect(seen).toEqual([Serving.SERVING, Serving.NOT_SERVING]);
});
