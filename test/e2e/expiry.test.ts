// Token expiry end to end: a token created with a ttl shows its expire_time, validates until then
// and is refused from then on, and the expiry sweep (every 200 ms here) archives it as EXPIRED;
// the server's maximum lifetime applies to tokens created without one; bad requests are named.
import { status } from '@grpc/grpc-js';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { ArchiveReason } from '../../gen/authtoken/v1/resources';
import { grpcError } from '../support/grpc-status';
import { pollUntil } from '../support/poll';
import { startTestService, type TestService } from '../support/service';
import { activeIds, allArchived, createUser, expectError, issue, reasonsById, snapshot } from './helpers';

const MAX_LIFETIME_S = 3600;
let svc: TestService;
let capped: TestService;
beforeAll(async () => {
  svc = await startTestService({ EXPIRY_SWEEP_INTERVAL_MS: '200' });
  capped = await startTestService({ MAX_TOKEN_LIFETIME_SECONDS: String(MAX_LIFETIME_S) });
});
afterAll(async () => {
  await svc?.stop();
  await capped?.stop();
});

test('a token with a ttl validates until its expire_time, is refused from then on, and is archived as EXPIRED', async () => {
  await createUser(svc, 'exp-ttl');
  const kept = await issue(svc, 'exp-ttl');
  const before = Date.now();
  const token = await issue(svc, 'exp-ttl', { ttl: { seconds: 1, nanos: 0 } });
  const expireTime = token.token.expireTime!;
  expect(expireTime.getTime() - before).toBeGreaterThanOrEqual(1000);
  expect(expireTime.getTime() - Date.now()).toBeLessThanOrEqual(1000);

  // Every answer before expire_time accepts it, every answer after refuses it.
  const answers: { sentAt: number; ok: boolean }[] = [];
  await pollUntil(
    'the token to be refused',
    async () => {
      const sentAt = Date.now();
      const ok = await svc.tokens.validateAuthToken({ authToken: token.secret }).then(
        () => true,
        () => false,
      );
      answers.push({ sentAt, ok });
      return ok;
    },
    (ok) => !ok,
    { timeoutMs: 5_000, intervalMs: 50 },
  );
  expect(answers.filter((a) => a.ok && a.sentAt >= expireTime.getTime())).toEqual([]);
  expect(answers.some((a) => a.ok)).toBe(true);
  expectError(await grpcError(svc.tokens.validateAuthToken({ authToken: token.secret })), status.NOT_FOUND, 'ERR_AUTH_TOKEN_NOT_FOUND');

  await pollUntil('the sweep to archive it', () => allArchived(svc, 'exp-ttl'), (a) => a.length === 1, { timeoutMs: 10_000 });
  expect(reasonsById(await allArchived(svc, 'exp-ttl'))).toEqual({ [token.tokenId]: ArchiveReason.ARCHIVE_REASON_EXPIRED });
  expect(await activeIds(svc, 'exp-ttl')).toEqual([kept.tokenId]);
});

test('ttl and expire_time together, a ttl that is not positive, an expire_time in the past: INVALID_ARGUMENT naming them, nothing stored', async () => {
  await createUser(svc, 'exp-bad');
  const before = await snapshot(svc);
  const cases: [object, string[]][] = [
    [{ ttl: { seconds: 60, nanos: 0 }, expireTime: new Date(Date.now() + 60_000) }, ['ttl', 'expire_time']],
    [{ ttl: { seconds: 0, nanos: 0 } }, ['ttl']],
    [{ expireTime: new Date(Date.now() - 1_000) }, ['expire_time']],
  ];
  for (const [request, fields] of cases) {
    const error = await grpcError(svc.tokens.createAuthToken({ uid: 'exp-bad', ...request }));
    expectError(error, status.INVALID_ARGUMENT, 'ERR_BAD_REQUEST', fields);
  }
  expect(await snapshot(svc)).toEqual(before);
});

test(`MAX_TOKEN_LIFETIME_SECONDS=${MAX_LIFETIME_S}: a token without a ttl expires then; asking for longer is refused`, async () => {
  await createUser(capped, 'exp-capped');
  const before = Date.now();
  const token = await issue(capped, 'exp-capped');
  const lifetimeMs = token.token.expireTime!.getTime() - before;
  expect(lifetimeMs).toBeGreaterThanOrEqual(MAX_LIFETIME_S * 1000);
  expect(lifetimeMs).toBeLessThan(MAX_LIFETIME_S * 1000 + 5_000);
  const error = await grpcError(capped.tokens.createAuthToken({ uid: 'exp-capped', ttl: { seconds: MAX_LIFETIME_S + 1, nanos: 0 } }));
  expectError(error, status.INVALID_ARGUMENT, 'ERR_BAD_REQUEST', ['ttl']);
  // Listed with it.
  expect((await capped.tokens.listAuthTokens({ uid: 'exp-capped' })).authTokens[0]!.expireTime).toEqual(token.token.expireTime);
});
