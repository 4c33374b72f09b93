// GetAuthToken and UpdateAuthToken end to end: a token found by secret or by token_id (never
// returning the secret), updates with and without update_mask, update_time, clearing a field, and
// the errors (bad masks, over-long fields, another user's token) that change nothing.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { status } from '@grpc/grpc-js';
import type { AuthToken } from '../../gen/authtoken/v1/resources';
import type { UpdateAuthTokenRequest } from '../../gen/authtoken/v1/auth_token_service';
import { startTestService, type TestService } from '../support/service';
import { grpcError } from '../support/grpc-status';
import { createUser, expectError, issue, jsonOfBytes, snapshot } from './helpers';

let svc: TestService;
beforeAll(async () => {
  svc = await startTestService();
});
afterAll(() => svc?.stop());

describe('GetAuthToken', () => {
  test('finds a token by secret and by token_id, without the secret', async () => {
    await createUser(svc, 'gt-owner');
    const { secret, tokenId, token } = await issue(svc, 'gt-owner', { platform: 'web', appInfo: { a: 1 } });
    await issue(svc, 'gt-owner');
    const bySecret = await svc.tokens.getAuthToken({ uid: 'GT-Owner', authToken: secret });
    const byId = await svc.tokens.getAuthToken({ uid: 'gt-owner', authToken: tokenId });
    expect(bySecret).toEqual({ ...token, authToken: '' });
    expect(byId).toEqual(bySecret);
  });

  test("ERR_AUTH_TOKEN_NOT_FOUND for another user's token, by secret or token_id", async () => {
    await createUser(svc, 'gt-a');
    await createUser(svc, 'gt-b');
    await issue(svc, 'gt-a');
    const bs = await issue(svc, 'gt-b');
    for (const authToken of [bs.secret, bs.tokenId]) {
      const error = await grpcError(svc.tokens.getAuthToken({ uid: 'gt-a', authToken }));
      expectError(error, status.NOT_FOUND, 'ERR_AUTH_TOKEN_NOT_FOUND');
      expect(error.metadata).toEqual({});
    }
    // And the token itself is still there for its owner.
    expect((await svc.tokens.getAuthToken({ uid: 'gt-b', authToken: bs.tokenId })).tokenId).toBe(bs.tokenId);
  });

  test('ERR_AUTH_TOKEN_NOT_FOUND for a well-formed token_id that does not exist', async () => {
    await createUser(svc, 'gt-missing');
    const error = await grpcError(svc.tokens.getAuthToken({ uid: 'gt-missing', authToken: `tid_${'A'.repeat(22)}` }));
    expectError(error, status.NOT_FOUND, 'ERR_AUTH_TOKEN_NOT_FOUND');
  });
});

describe('UpdateAuthToken', () => {
  async function freshToken(uid: string) {
    await createUser(svc, uid);
    return issue(svc, uid, { platform: 'ios', deviceId: 'phone', userAgent: 'UA/1', appInfo: { v: 1 } });
  }

  /** Updates, checking that update_time is set to the time of this call and create_time is kept. */
  async function update(request: Partial<UpdateAuthTokenRequest>, previous: AuthToken): Promise<AuthToken> {
    const before = Date.now();
    const updated = await svc.tokens.updateAuthToken(request);
    const after = Date.now();
    expect(updated.updateTime!.getTime()).toBeGreaterThanOrEqual(Math.max(before, previous.updateTime!.getTime()));
    expect(updated.updateTime!.getTime()).toBeLessThanOrEqual(after);
    expect(updated.createTime).toEqual(previous.createTime);
    return updated;
  }

  test('without a mask writes only the non-empty fields', async () => {
    const t = await freshToken('ut-nomask');
    const updated = await update({ uid: 'ut-nomask', authToken: t.secret, platform: 'android' }, t.token);
    expect(updated).toEqual({ ...t.token, authToken: '', platform: 'android', updateTime: updated.updateTime });
    expect(await svc.tokens.getAuthToken({ uid: 'ut-nomask', authToken: t.tokenId })).toEqual(updated);

    const again = await update(
      { uid: 'ut-nomask', authToken: t.tokenId, userAgent: 'UA/2', appInfo: { v: 2, extra: ['x'] } },
      updated,
    );
    expect(again).toEqual({
      ...updated,
      userAgent: 'UA/2',
      appInfo: { v: 2, extra: ['x'] },
      updateTime: again.updateTime,
    });
    expect(await svc.tokens.getAuthToken({ uid: 'ut-nomask', authToken: t.tokenId })).toEqual(again);
  });

  test('with update_mask ["platform"] writes only platform', async () => {
    const t = await freshToken('ut-mask');
    const updated = await update(
      {
        uid: 'ut-mask',
        authToken: t.tokenId,
        platform: 'web',
        userAgent: 'ignored',
        appInfo: { ignored: true },
        updateMask: ['platform'],
      },
      t.token,
    );
    expect(updated).toEqual({ ...t.token, authToken: '', platform: 'web', updateTime: updated.updateTime });
    expect(await svc.tokens.getAuthToken({ uid: 'ut-mask', authToken: t.tokenId })).toEqual(updated);
  });

  test('update_time advances past the previous one', async () => {
    const t = await freshToken('ut-time');
    // Make the stored update_time an hour old, so that "advanced" cannot be confused with "unchanged".
    const hourAgo = new Date(t.token.updateTime!.getTime() - 3_600_000);
    const backdated = await svc.db
      .collection('users')
      .updateOne({ _id: 'ut-time' as never }, { $set: { 'tokens.0.updateTime': hourAgo } });
    expect(backdated.modifiedCount).toBe(1);
    const stale = await svc.tokens.getAuthToken({ uid: 'ut-time', authToken: t.tokenId });
    expect(stale.updateTime).toEqual(hourAgo);

    const updated = await update({ uid: 'ut-time', authToken: t.tokenId, platform: 'mac' }, stale);
    expect(updated.updateTime!.getTime()).toBeGreaterThan(hourAgo.getTime());
    expect((await svc.tokens.getAuthToken({ uid: 'ut-time', authToken: t.tokenId })).updateTime).toEqual(updated.updateTime);
  });

  test('a mask path with an empty value clears that field', async () => {
    const t = await freshToken('ut-clear');
    const updated = await update({ uid: 'ut-clear', authToken: t.secret, updateMask: ['user_agent', 'app_info'] }, t.token);
    expect(updated.userAgent).toBe('');
    expect(updated.appInfo).toBeUndefined();
    expect(updated.platform).toBe('ios');
    expect(updated.deviceId).toBe('phone');
    expect(await svc.tokens.getAuthToken({ uid: 'ut-clear', authToken: t.tokenId })).toEqual(updated);
    const doc = await svc.db.collection('users').findOne({ _id: 'ut-clear' as never });
    expect(doc!.tokens[0].userAgent).toBe('');
    expect(doc!.tokens[0].appInfo).toBeNull();
  });

  test('an unknown or non-updatable mask path is ERR_BAD_REQUEST and changes nothing', async () => {
    const t = await freshToken('ut-badmask');
    const before = await snapshot(svc);
    for (const updateMask of [['device_id'], ['platform', 'nope'], ['uid'], ['deviceId']]) {
      const error = await grpcError(
        svc.tokens.updateAuthToken({ uid: 'ut-badmask', authToken: t.tokenId, platform: 'changed', updateMask }),
      );
      expectError(error, status.INVALID_ARGUMENT, 'ERR_BAD_REQUEST', ['update_mask']);
    }
    expect(await snapshot(svc)).toEqual(before);
  });

  test('over-long fields are ERR_BAD_REQUEST naming each, and change nothing', async () => {
    const t = await freshToken('ut-limits');
    const before = await snapshot(svc);
    const tooLong = 'y'.repeat(256);
    const all = await grpcError(
      svc.tokens.updateAuthToken({
        uid: 'ut-limits',
        authToken: t.tokenId,
        platform: tooLong,
        userAgent: tooLong,
        appInfo: jsonOfBytes(5 * 1024 + 1),
      }),
    );
    expectError(all, status.INVALID_ARGUMENT, 'ERR_BAD_REQUEST', ['platform', 'user_agent', 'app_info']);
    const partly = await grpcError(
      svc.tokens.updateAuthToken({ uid: 'ut-limits', authToken: t.tokenId, platform: 'fine', userAgent: tooLong }),
    );
    expectError(partly, status.INVALID_ARGUMENT, 'ERR_BAD_REQUEST', ['user_agent']);
    expect(await snapshot(svc)).toEqual(before);
  });

  test("ERR_AUTH_TOKEN_NOT_FOUND for another user's token", async () => {
    const t = await freshToken('ut-owner');
    await createUser(svc, 'ut-other');
    const before = await snapshot(svc);
    for (const authToken of [t.secret, t.tokenId]) {
      const error = await grpcError(svc.tokens.updateAuthToken({ uid: 'ut-other', authToken, platform: 'hijack' }));
      expectError(error, status.NOT_FOUND, 'ERR_AUTH_TOKEN_NOT_FOUND');
    }
    expect(await snapshot(svc)).toEqual(before);
  });
});
