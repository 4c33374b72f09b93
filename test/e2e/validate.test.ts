import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { status } from '@grpc/grpc-js';
import { issueToken } from '../../src/domain/token-format';
import { ArchiveReason } from '../../gen/authtoken/v1/resources';
import { startTestService, type TestService } from '../support/service';
import { grpcError } from '../support/grpc-status';
import { allArchived, createUser, issue, snapshot } from './helpers';

let svc: TestService;
beforeAll(async () => {
  svc = await startTestService();
});
afterAll(() => svc?.stop());

async function expectNotFound(authToken: string) {
  const error = await grpcError(svc.tokens.validateAuthToken({ authToken }));
  expect(error.code).toBe(status.NOT_FOUND);
  expect(error.reason).toBe('ERR_AUTH_TOKEN_NOT_FOUND');
  expect(error.domain).toBe('authtoken.v1');
  expect(error.metadata).toEqual({});
  expect(error.fields).toEqual([]);
  return error;
}

/** Sets the stored last-use time of the user's only token, as if it had been used at `time`. */
async function setStoredLastUse(uid: string, time: Date) {
  const result = await svc.db.collection('users').updateOne({ _id: uid as never }, { $set: { 'tokens.0.lastUsedTime': time } });
  expect(result.modifiedCount).toBe(1);
}

describe('ValidateAuthToken', () => {
  test('returns the uid, the token without its secret, and the user', async () => {
    const { user } = await svc.users.createUser({ uid: 'V-Basic', name: 'Val Basic', metadata: { tier: 'gold', n: 3 } });
    const issued = await issue(svc, 'v-basic', { platform: 'ios', deviceId: 'iphone', userAgent: 'App/1', appInfo: { v: '1' } });

    const before = Date.now();
    const validated = await svc.tokens.validateAuthToken({ authToken: issued.secret });
    const after = Date.now();

    expect(validated.uid).toBe('v-basic');
    expect(validated.user).toEqual(user);
    const lastUsed = validated.authToken!.lastUsedTime!;
    expect(lastUsed.getTime()).toBeGreaterThanOrEqual(before);
    expect(lastUsed.getTime()).toBeLessThanOrEqual(after);
    expect(validated.authToken).toEqual({ ...issued.token, authToken: '', lastUsedTime: lastUsed });
  });

  test('rejects a token_id with ERR_BAD_REQUEST on auth_token', async () => {
    await createUser(svc, 'v-tokenid');
    const issued = await issue(svc, 'v-tokenid');
    const before = await snapshot(svc);
    const error = await grpcError(svc.tokens.validateAuthToken({ authToken: issued.tokenId }));
    expect(error.code).toBe(status.INVALID_ARGUMENT);
    expect(error.reason).toBe('ERR_BAD_REQUEST');
    expect(error.fields).toEqual(['auth_token']);
    expect(await snapshot(svc)).toEqual(before);
  });

  test('ERR_AUTH_TOKEN_NOT_FOUND for a well-formed token that was never issued, whatever the uid', async () => {
    await createUser(svc, 'v-never');
    const real = await issue(svc, 'v-never');
    const before = await snapshot(svc);

    const forExistingUser = await expectNotFound(issueToken('v-never').token);
    const forUnknownUser = await expectNotFound(issueToken('v-nobody-at-all').token);
    // The answer does not tell whether the uid exists.
    expect(forUnknownUser.message).toBe(forExistingUser.message);

    expect(await snapshot(svc)).toEqual(before);
    expect((await svc.tokens.validateAuthToken({ authToken: real.secret })).authToken!.tokenId).toBe(real.tokenId);
  });

  test('ERR_AUTH_TOKEN_NOT_FOUND for tokens that were replaced, deleted or flushed', async () => {
    await createUser(svc, 'v-revoked');
    const replaced = await issue(svc, 'v-revoked', { deviceId: 'd' });
    const replacement = await issue(svc, 'v-revoked', { deviceId: 'd' });
    const deleted = await issue(svc, 'v-revoked');
    await svc.tokens.deleteAuthToken({ uid: 'v-revoked', authToken: deleted.secret });
    await expectNotFound(replaced.secret);
    await expectNotFound(deleted.secret);
    expect((await svc.tokens.validateAuthToken({ authToken: replacement.secret })).uid).toBe('v-revoked');
    await svc.tokens.flushAuthTokens({ uid: 'v-revoked' });
    await expectNotFound(replacement.secret);
  });

  test('the first validation sets last_used_time and records the device information given', async () => {
    await createUser(svc, 'v-device');
    const issued = await issue(svc, 'v-device', { platform: 'ios', deviceId: 'dev-a', userAgent: 'Old/1', appInfo: { old: true } });

    const before = Date.now();
    const validated = await svc.tokens.validateAuthToken({
      authToken: issued.secret,
      platform: 'ipados',
      deviceId: 'dev-b',
      userAgent: 'New/2',
      appInfo: { build: 7, channel: 'beta' },
    });
    const after = Date.now();

    const lastUsed = validated.authToken!.lastUsedTime!;
    expect(lastUsed.getTime()).toBeGreaterThanOrEqual(before);
    expect(lastUsed.getTime()).toBeLessThanOrEqual(after);
    const expected = {
      ...issued.token,
      authToken: '',
      platform: 'ipados',
      // A token's device_id, once set, is never rebound by a validation.
      deviceId: 'dev-a',
      userAgent: 'New/2',
      appInfo: { build: 7, channel: 'beta' },
      lastUsedTime: lastUsed,
    };
    expect(validated.authToken).toEqual(expected);
    expect(await svc.tokens.getAuthToken({ uid: 'v-device', authToken: issued.tokenId })).toEqual(expected);
  });

  test('records device_id on a token that had none, which then decides what a re-login replaces', async () => {
    await createUser(svc, 'v-bind');
    const issued = await issue(svc, 'v-bind', { platform: 'web' });
    expect(issued.token.deviceId).toBe('');

    const validated = await svc.tokens.validateAuthToken({ authToken: issued.secret, deviceId: 'laptop' });
    expect(validated.authToken!.deviceId).toBe('laptop');
    // Fields not given are left as they were.
    expect(validated.authToken!.platform).toBe('web');
    const stored = await svc.tokens.getAuthToken({ uid: 'v-bind', authToken: issued.tokenId });
    expect(stored.deviceId).toBe('laptop');
    expect(stored.platform).toBe('web');
    expect(stored.lastUsedTime).toEqual(validated.authToken!.lastUsedTime);

    const relogin = await issue(svc, 'v-bind', { deviceId: 'laptop' });
    expect(relogin.replaced).toEqual([issued.tokenId]);
    const archived = await allArchived(svc, 'v-bind');
    expect(archived.map((a) => [a.authToken!.tokenId, a.reason])).toEqual([[issued.tokenId, ArchiveReason.ARCHIVE_REASON_REPLACED]]);
    expect(archived[0]!.authToken!.deviceId).toBe('laptop');
  });

  test('without device information only last_used_time changes', async () => {
    await createUser(svc, 'v-plain');
    const issued = await issue(svc, 'v-plain', { platform: 'android', deviceId: 'p', userAgent: 'UA', appInfo: { a: 1 } });
    const validated = await svc.tokens.validateAuthToken({ authToken: issued.secret });
    const stored = await svc.tokens.getAuthToken({ uid: 'v-plain', authToken: issued.tokenId });
    expect(stored).toEqual({ ...issued.token, authToken: '', lastUsedTime: validated.authToken!.lastUsedTime });
    expect(stored.lastUsedTime).toBeInstanceOf(Date);
  });

  test('a second validation within the same minute, with the same device information (or none), writes nothing', async () => {
    await createUser(svc, 'v-throttle');
    const issued = await issue(svc, 'v-throttle', { platform: 'ios' });
    const device = { platform: 'first', userAgent: 'UA-1', appInfo: { build: 7 } };
    const first = await svc.tokens.validateAuthToken({ authToken: issued.secret, ...device });
    const afterFirst = await snapshot(svc);

    for (const again of [device, {}, { platform: 'first' }]) {
      const second = await svc.tokens.validateAuthToken({ authToken: issued.secret, ...again });
      expect(second.authToken).toEqual(first.authToken);
    }
    expect(await snapshot(svc)).toEqual(afterFirst);
  });

  test('device information that differs is written at once, even within the minute: a device_id given then is bound', async () => {
    await createUser(svc, 'v-device-change');
    const issued = await issue(svc, 'v-device-change', { platform: 'ios' });
    const first = await svc.tokens.validateAuthToken({ authToken: issued.secret, platform: 'first', userAgent: 'UA-1' });
    const second = await svc.tokens.validateAuthToken({
      authToken: issued.secret,
      platform: 'second',
      deviceId: 'late-device',
      userAgent: 'UA-2',
      appInfo: { second: true },
    });
    const changed = { platform: 'second', deviceId: 'late-device', userAgent: 'UA-2', appInfo: { second: true } };
    expect(second.authToken).toMatchObject(changed);
    expect(second.authToken!.lastUsedTime!.getTime()).toBeGreaterThanOrEqual(first.authToken!.lastUsedTime!.getTime());
    const stored = await svc.tokens.getAuthToken({ uid: 'v-device-change', authToken: issued.tokenId });
    expect(stored).toMatchObject({ ...changed, lastUsedTime: second.authToken!.lastUsedTime });
    // Bound now: a re-login on that device replaces it.
    expect((await issue(svc, 'v-device-change', { deviceId: 'late-device' })).replaced).toEqual([issued.tokenId]);
  });

  test('a validation a minute or more after the last recorded use writes again', async () => {
    await createUser(svc, 'v-minute');
    const issued = await issue(svc, 'v-minute');
    const longAgo = new Date(Date.now() - 61_000);
    await setStoredLastUse('v-minute', longAgo);

    const before = Date.now();
    const validated = await svc.tokens.validateAuthToken({ authToken: issued.secret, platform: 'later' });
    const lastUsed = validated.authToken!.lastUsedTime!;
    expect(lastUsed.getTime()).toBeGreaterThanOrEqual(before);
    const stored = await svc.tokens.getAuthToken({ uid: 'v-minute', authToken: issued.tokenId });
    expect(stored.lastUsedTime).toEqual(lastUsed);
    expect(stored.platform).toBe('later');

    // Recorded 30 s ago: still within the minute, so nothing is written.
    const recent = new Date(Date.now() - 30_000);
    await setStoredLastUse('v-minute', recent);
    const throttled = await svc.tokens.validateAuthToken({ authToken: issued.secret, platform: 'later' });
    expect(throttled.authToken!.lastUsedTime).toEqual(recent);
    const unchanged = await svc.tokens.getAuthToken({ uid: 'v-minute', authToken: issued.tokenId });
    expect(unchanged.lastUsedTime).toEqual(recent);
    expect(unchanged.platform).toBe('later');
  });

  test('concurrent first validations with the same device information write last use once', async () => {
    await createUser(svc, 'v-concurrent');
    const issued = await issue(svc, 'v-concurrent');
    const results = await Promise.all(
      Array.from({ length: 10 }, () => svc.tokens.validateAuthToken({ authToken: issued.secret, userAgent: 'UA' })),
    );
    const stored = await svc.tokens.getAuthToken({ uid: 'v-concurrent', authToken: issued.tokenId });
    expect(stored.lastUsedTime).toBeInstanceOf(Date);
    expect(stored.userAgent).toBe('UA');
    for (const r of results) {
      expect(r.uid).toBe('v-concurrent');
      // Each answer saw either no use yet, or the one use that was written, never a second one.
      const seen = { lastUsedTime: r.authToken!.lastUsedTime, userAgent: r.authToken!.userAgent };
      if (seen.lastUsedTime === undefined) expect(seen.userAgent).toBe('');
      else expect(seen).toEqual({ lastUsedTime: stored.lastUsedTime, userAgent: stored.userAgent });
    }
    expect(results.some((r) => r.authToken!.lastUsedTime !== undefined)).toBe(true);
  });

  test('ERR_BAD_REQUEST names every over-long device field, and nothing is recorded', async () => {
    await createUser(svc, 'v-limits');
    const issued = await issue(svc, 'v-limits');
    const before = await snapshot(svc);
    const tooLong = 'z'.repeat(256);
    const error = await grpcError(
      svc.tokens.validateAuthToken({
        authToken: issued.secret,
        platform: tooLong,
        deviceId: tooLong,
        userAgent: tooLong,
        appInfo: { k: 'x'.repeat(5 * 1024) },
      }),
    );
    expect(error.code).toBe(status.INVALID_ARGUMENT);
    expect(error.reason).toBe('ERR_BAD_REQUEST');
    expect([...error.fields].sort()).toEqual(['app_info', 'device_id', 'platform', 'user_agent']);

    const both = await grpcError(svc.tokens.validateAuthToken({ authToken: 'nope', platform: tooLong }));
    expect([...both.fields].sort()).toEqual(['auth_token', 'platform']);

    expect(await snapshot(svc)).toEqual(before);
    expect((await svc.tokens.getAuthToken({ uid: 'v-limits', authToken: issued.tokenId })).lastUsedTime).toBeUndefined();
  });
});
