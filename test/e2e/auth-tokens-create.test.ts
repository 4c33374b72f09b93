// AuthTokenService.CreateAuthToken end to end: the secret returned once and the device fields stored,
// the field size bounds, replacement by device_id (with and without force), eviction of the oldest
// token at the per-user cap (the default 100, and a smaller MAX_TOKENS_PER_USER), and the errors
// (unknown uid, over-long fields) that change nothing.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { status } from '@grpc/grpc-js';
import { ArchiveReason } from '../../gen/authtoken/v1/resources';
import { startTestService, type TestService } from '../support/service';
import { grpcError } from '../support/grpc-status';
import {
  activeIds,
  allArchived,
  createUser,
  expectError,
  expectNotValid,
  expectValid,
  issue,
  issueMany,
  jsonOfBytes,
  reasonsById,
  snapshot,
} from './helpers';

let svc: TestService;
beforeAll(async () => {
  svc = await startTestService();
});
afterAll(() => svc?.stop());

describe('CreateAuthToken', () => {
  test('returns the secret once and stores the device fields', async () => {
    await createUser(svc, 'ct-device');
    const appInfo = { version: '2.3.1', build: 42, flags: { beta: true }, list: [1, 'two'] };
    const before = Date.now();
    const created = await svc.tokens.createAuthToken({
      uid: 'CT-Device',
      platform: 'android',
      deviceId: 'pixel-8',
      userAgent: 'ChatApp/2.3.1 (Android 14)',
      appInfo,
    });
    const after = Date.now();
    const token = created.authToken!;
    expect(token.authToken).toMatch(/^cat_ct-device_[0-9A-Za-z]{36}$/);
    expect(token.tokenId).toMatch(/^tid_[0-9A-Za-z]{22}$/);
    expect(token.uid).toBe('ct-device');
    expect(token.platform).toBe('android');
    expect(token.deviceId).toBe('pixel-8');
    expect(token.userAgent).toBe('ChatApp/2.3.1 (Android 14)');
    expect(token.appInfo).toEqual(appInfo);
    expect(token.lastUsedTime).toBeUndefined();
    expect(token.createTime!.getTime()).toBeGreaterThanOrEqual(before);
    expect(token.createTime!.getTime()).toBeLessThanOrEqual(after);
    expect(token.updateTime).toEqual(token.createTime);
    expect(created.evictedTokenIds).toEqual([]);
    expect(created.replacedTokenIds).toEqual([]);

    const publicToken = { ...token, authToken: '' };
    const listed = await svc.tokens.listAuthTokens({ uid: 'ct-device' });
    expect(listed.authTokens).toEqual([publicToken]);
    expect(await svc.tokens.getAuthToken({ uid: 'ct-device', authToken: token.authToken })).toEqual(publicToken);
    expect(await svc.tokens.getAuthToken({ uid: 'ct-device', authToken: token.tokenId })).toEqual(publicToken);
    const validated = await svc.tokens.validateAuthToken({ authToken: token.authToken });
    expect(validated.authToken!.authToken).toBe('');
    expect(validated.authToken!.tokenId).toBe(token.tokenId);
  });

  test('accepts device fields of exactly 255 characters and app_info of exactly 5 KB', async () => {
    await createUser(svc, 'ct-bounds');
    const long = '😀'.repeat(255);
    const appInfo = jsonOfBytes(5 * 1024);
    const { token } = await issue(svc, 'ct-bounds', { platform: long, deviceId: long, userAgent: long, appInfo });
    expect(token.platform).toBe(long);
    expect(token.deviceId).toBe(long);
    expect(token.userAgent).toBe(long);
    expect(token.appInfo).toEqual(appInfo);
  });

  test('without force, a token for the same device_id replaces the previous one', async () => {
    await createUser(svc, 'ct-replace');
    const first = await issue(svc, 'ct-replace', { deviceId: 'phone', platform: 'ios' });
    const other = await issue(svc, 'ct-replace', { deviceId: 'tablet' });
    const second = await issue(svc, 'ct-replace', { deviceId: 'phone', platform: 'ios' });

    expect(second.replaced).toEqual([first.tokenId]);
    expect(second.evicted).toEqual([]);
    expect(await activeIds(svc, 'ct-replace')).toEqual([second.tokenId, other.tokenId]);
    await expectNotValid(svc, first.secret);
    await expectValid(svc, second.secret, second.tokenId);
    await expectValid(svc, other.secret, other.tokenId);

    const archived = await allArchived(svc, 'ct-replace');
    expect(archived).toHaveLength(1);
    expect(archived[0]!.reason).toBe(ArchiveReason.ARCHIVE_REASON_REPLACED);
    expect(archived[0]!.authToken).toEqual({ ...first.token, authToken: '' });
  });

  test('with force, tokens for the same device_id stay active side by side', async () => {
    await createUser(svc, 'ct-force');
    const first = await issue(svc, 'ct-force', { deviceId: 'phone' });
    const second = await issue(svc, 'ct-force', { deviceId: 'phone', force: true });
    expect(second.replaced).toEqual([]);
    expect(second.evicted).toEqual([]);
    expect(await activeIds(svc, 'ct-force')).toEqual([second.tokenId, first.tokenId]);
    await expectValid(svc, first.secret, first.tokenId);
    await expectValid(svc, second.secret, second.tokenId);
    expect(await allArchived(svc, 'ct-force')).toEqual([]);

    // A later token without force replaces every active token of that device at once.
    const third = await issue(svc, 'ct-force', { deviceId: 'phone' });
    expect([...third.replaced].sort()).toEqual([first.tokenId, second.tokenId].sort());
    expect(await activeIds(svc, 'ct-force')).toEqual([third.tokenId]);
    expect(reasonsById(await allArchived(svc, 'ct-force'))).toEqual({
      [first.tokenId]: ArchiveReason.ARCHIVE_REASON_REPLACED,
      [second.tokenId]: ArchiveReason.ARCHIVE_REASON_REPLACED,
    });
  });

  test('without device_id, every call issues a new token and replaces nothing', async () => {
    await createUser(svc, 'ct-nodevice');
    const issued = await issueMany(svc, 'ct-nodevice', 3);
    for (const t of issued) {
      expect(t.replaced).toEqual([]);
      expect(t.evicted).toEqual([]);
      await expectValid(svc, t.secret, t.tokenId);
    }
    expect(new Set(issued.map((t) => t.secret)).size).toBe(3);
    expect(await activeIds(svc, 'ct-nodevice')).toEqual(issued.map((t) => t.tokenId).reverse());
  });

  test('at the default cap of 100, the 101st token evicts exactly the oldest', async () => {
    const { authToken: oldest } = await svc.users.createUser({ uid: 'ct-cap', name: 'Cap', withAuthToken: true });
    const rest = await issueMany(svc, 'ct-cap', 99);
    expect(rest.every((t) => t.evicted.length === 0)).toBe(true);
    expect((await svc.tokens.listAuthTokens({ uid: 'ct-cap' })).totalSize).toBe(100);

    const newest = await issue(svc, 'ct-cap');
    expect(newest.evicted).toEqual([oldest!.tokenId]);
    expect(newest.replaced).toEqual([]);

    const listed = await svc.tokens.listAuthTokens({ uid: 'ct-cap' });
    expect(listed.totalSize).toBe(100);
    expect(listed.authTokens.map((t) => t.tokenId)).toEqual([...rest, newest].reverse().map((t) => t.tokenId));

    await expectNotValid(svc, oldest!.authToken);
    expectError(
      await grpcError(svc.tokens.getAuthToken({ uid: 'ct-cap', authToken: oldest!.tokenId })),
      status.NOT_FOUND,
      'ERR_AUTH_TOKEN_NOT_FOUND',
    );
    expectError(
      await grpcError(svc.tokens.getAuthToken({ uid: 'ct-cap', authToken: oldest!.authToken })),
      status.NOT_FOUND,
      'ERR_AUTH_TOKEN_NOT_FOUND',
    );
    await expectValid(svc, rest[0]!.secret, rest[0]!.tokenId);
    await expectValid(svc, newest.secret, newest.tokenId);

    const archived = await allArchived(svc, 'ct-cap');
    expect(archived).toHaveLength(1);
    expect(archived[0]!.reason).toBe(ArchiveReason.ARCHIVE_REASON_EVICTED);
    expect(archived[0]!.authToken!.tokenId).toBe(oldest!.tokenId);
  });

  test('ERR_UID_NOT_FOUND for an unknown uid', async () => {
    const error = await grpcError(svc.tokens.createAuthToken({ uid: 'CT-Nobody', deviceId: 'x' }));
    expectError(error, status.NOT_FOUND, 'ERR_UID_NOT_FOUND');
    expect(error.metadata).toEqual({ uid: 'ct-nobody' });
    expect(await svc.db.collection('users').countDocuments({ _id: 'ct-nobody' as never })).toBe(0);
  });

  test('ERR_BAD_REQUEST names every over-long field, and a rejected request changes nothing', async () => {
    await createUser(svc, 'ct-limits');
    const existing = await issue(svc, 'ct-limits', { deviceId: 'phone' });
    const before = await snapshot(svc);
    const tooLong = 'x'.repeat(256);

    const all = await grpcError(
      svc.tokens.createAuthToken({
        uid: 'ct-limits',
        platform: tooLong,
        deviceId: tooLong,
        userAgent: tooLong,
        appInfo: jsonOfBytes(5 * 1024 + 1),
      }),
    );
    expectError(all, status.INVALID_ARGUMENT, 'ERR_BAD_REQUEST', ['platform', 'device_id', 'user_agent', 'app_info']);

    // Valid device_id that would replace `existing`, but one bad field: nothing happens.
    const one = await grpcError(svc.tokens.createAuthToken({ uid: 'ct-limits', deviceId: 'phone', userAgent: tooLong }));
    expectError(one, status.INVALID_ARGUMENT, 'ERR_BAD_REQUEST', ['user_agent']);

    const badUid = await grpcError(svc.tokens.createAuthToken({ uid: 'bad uid', platform: tooLong }));
    expectError(badUid, status.INVALID_ARGUMENT, 'ERR_BAD_REQUEST', ['uid', 'platform']);

    expect(await snapshot(svc)).toEqual(before);
    await expectValid(svc, existing.secret, existing.tokenId);
  });
});

describe('a smaller cap from MAX_TOKENS_PER_USER', () => {
  let small: TestService;
  beforeAll(async () => {
    small = await startTestService({ MAX_TOKENS_PER_USER: '3' });
  });
  afterAll(() => small?.stop());

  test('evicts the oldest tokens one by one, in order', async () => {
    await createUser(small, 'cap3-order');
    const [t1, t2, t3] = await issueMany(small, 'cap3-order', 3);
    const t4 = await issue(small, 'cap3-order');
    expect(t4.evicted).toEqual([t1!.tokenId]);
    const t5 = await issue(small, 'cap3-order');
    expect(t5.evicted).toEqual([t2!.tokenId]);
    const t6 = await issue(small, 'cap3-order');
    expect(t6.evicted).toEqual([t3!.tokenId]);

    const listed = await small.tokens.listAuthTokens({ uid: 'cap3-order' });
    expect(listed.totalSize).toBe(3);
    expect(listed.authTokens.map((t) => t.tokenId)).toEqual([t6.tokenId, t5.tokenId, t4.tokenId]);

    const archived = await allArchived(small, 'cap3-order');
    expect(reasonsById(archived)).toEqual({
      [t1!.tokenId]: ArchiveReason.ARCHIVE_REASON_EVICTED,
      [t2!.tokenId]: ArchiveReason.ARCHIVE_REASON_EVICTED,
      [t3!.tokenId]: ArchiveReason.ARCHIVE_REASON_EVICTED,
    });
    expect(archived).toHaveLength(3);
    for (const t of [t1!, t2!, t3!]) {
      const validation = await grpcError(small.tokens.validateAuthToken({ authToken: t.secret }));
      expect(validation.reason).toBe('ERR_AUTH_TOKEN_NOT_FOUND');
    }
    for (const t of [t4, t5, t6]) {
      expect((await small.tokens.validateAuthToken({ authToken: t.secret })).authToken!.tokenId).toBe(t.tokenId);
    }
  });

  test('a replacement at the cap frees its own slot and evicts nothing', async () => {
    await createUser(small, 'cap3-replace');
    const a = await issue(small, 'cap3-replace', { deviceId: 'phone' });
    const b = await issue(small, 'cap3-replace');
    const c = await issue(small, 'cap3-replace');
    const d = await issue(small, 'cap3-replace', { deviceId: 'phone' });
    expect(d.replaced).toEqual([a.tokenId]);
    expect(d.evicted).toEqual([]);
    expect(await activeIds(small, 'cap3-replace')).toEqual([d.tokenId, c.tokenId, b.tokenId]);
    expect(reasonsById(await allArchived(small, 'cap3-replace'))).toEqual({
      [a.tokenId]: ArchiveReason.ARCHIVE_REASON_REPLACED,
    });
  });
});
