// FlushAuthTokens narrowed, end to end: log out every other device (except_auth_token, by secret
// or token_id), log out one device (device_id), or both; the count is exact, what is revoked no
// longer validates and is archived as FLUSHED, what is kept still validates. A token to keep that
// is not active revokes nothing; bad fields are named.
import { status } from '@grpc/grpc-js';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { ArchiveReason } from '../../gen/authtoken/v1/resources';
import { grpcError } from '../support/grpc-status';
import { startTestService, type TestService } from '../support/service';
import { activeIds, allArchived, createUser, expectError, expectNotValid, expectValid, issue, reasonsById, snapshot } from './helpers';

let svc: TestService;
beforeAll(async () => {
  svc = await startTestService();
});
afterAll(() => svc?.stop());

/** A user with two tokens on "phone", one on "laptop" and one without a device. */
async function userWithDevices(uid: string) {
  await createUser(svc, uid);
  return {
    phoneOld: await issue(svc, uid, { deviceId: 'phone', force: true }),
    phoneNew: await issue(svc, uid, { deviceId: 'phone', force: true }),
    laptop: await issue(svc, uid, { deviceId: 'laptop' }),
    anywhere: await issue(svc, uid),
  };
}

const flushed = (...tokens: { tokenId: string }[]) =>
  Object.fromEntries(tokens.map((t) => [t.tokenId, ArchiveReason.ARCHIVE_REASON_FLUSHED]));

test('except_auth_token (the secret of the session in use): every other device is logged out', async () => {
  const { phoneOld, phoneNew, laptop, anywhere } = await userWithDevices('fs-others');
  expect(await svc.tokens.flushAuthTokens({ uid: 'fs-others', exceptAuthToken: laptop.secret })).toEqual({ deletedCount: 3 });
  await expectValid(svc, laptop.secret, laptop.tokenId);
  for (const t of [phoneOld, phoneNew, anywhere]) await expectNotValid(svc, t.secret);
  expect(reasonsById(await allArchived(svc, 'fs-others'))).toEqual(flushed(phoneOld, phoneNew, anywhere));
});

test('except_auth_token by token_id keeps that token just the same', async () => {
  const { laptop } = await userWithDevices('fs-by-id');
  expect(await svc.tokens.flushAuthTokens({ uid: 'fs-by-id', exceptAuthToken: laptop.tokenId })).toEqual({ deletedCount: 3 });
  expect(await activeIds(svc, 'fs-by-id')).toEqual([laptop.tokenId]);
});

test('device_id: that device is logged out, the others stay; again, 0', async () => {
  const { phoneOld, phoneNew, laptop, anywhere } = await userWithDevices('fs-device');
  expect(await svc.tokens.flushAuthTokens({ uid: 'fs-device', deviceId: 'phone' })).toEqual({ deletedCount: 2 });
  for (const t of [phoneOld, phoneNew]) await expectNotValid(svc, t.secret);
  await expectValid(svc, laptop.secret, laptop.tokenId);
  await expectValid(svc, anywhere.secret, anywhere.tokenId);
  expect(reasonsById(await allArchived(svc, 'fs-device'))).toEqual(flushed(phoneOld, phoneNew));
  expect(await svc.tokens.flushAuthTokens({ uid: 'fs-device', deviceId: 'phone' })).toEqual({ deletedCount: 0 });
});

test('device_id and except_auth_token: the device\'s other tokens only', async () => {
  const { phoneOld, phoneNew } = await userWithDevices('fs-both');
  expect(await svc.tokens.flushAuthTokens({ uid: 'fs-both', deviceId: 'phone', exceptAuthToken: phoneNew.secret })).toEqual({
    deletedCount: 1,
  });
  await expectNotValid(svc, phoneOld.secret);
  await expectValid(svc, phoneNew.secret, phoneNew.tokenId);
});

test('a token to keep that is not active (revoked, or another user\'s): ERR_AUTH_TOKEN_NOT_FOUND, and nothing changes', async () => {
  const { anywhere } = await userWithDevices('fs-stale');
  await createUser(svc, 'fs-stranger');
  const strangers = await issue(svc, 'fs-stranger');
  await svc.tokens.deleteAuthToken({ uid: 'fs-stale', authToken: anywhere.tokenId });
  const before = await snapshot(svc);
  for (const exceptAuthToken of [anywhere.secret, anywhere.tokenId, strangers.secret, strangers.tokenId]) {
    const error = await grpcError(svc.tokens.flushAuthTokens({ uid: 'fs-stale', exceptAuthToken }));
    expectError(error, status.NOT_FOUND, 'ERR_AUTH_TOKEN_NOT_FOUND');
  }
  expect(await snapshot(svc)).toEqual(before);
});

test('malformed fields are named, and nothing changes', async () => {
  await userWithDevices('fs-bad');
  const before = await snapshot(svc);
  const error = await grpcError(svc.tokens.flushAuthTokens({ uid: 'fs-bad', exceptAuthToken: 'not-a-token', deviceId: 'd'.repeat(256) }));
  expectError(error, status.INVALID_ARGUMENT, 'ERR_BAD_REQUEST', ['except_auth_token', 'device_id']);
  expect(await snapshot(svc)).toEqual(before);
});
