import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { status } from '@grpc/grpc-js';
import { ArchiveReason, type AuthToken } from '../../gen/authtoken/v1/resources';
import type { UpdateAuthTokenRequest } from '../../gen/authtoken/v1/auth_token_service';
import { startTestService, type TestService } from '../support/service';
import { grpcError, type DecodedError } from '../support/grpc-status';
import { allArchived, createUser, issue, issueMany, reasonsById, snapshot } from './helpers';

let svc: TestService;
beforeAll(async () => {
  svc = await startTestService();
});
afterAll(() => svc?.stop());

function expectError(error: DecodedError, code: status, reason: string, fields: string[] = []) {
  expect(error.code).toBe(code);
  expect(error.reason).toBe(reason);
  expect(error.domain).toBe('authtoken.v1');
  expect([...error.fields].sort()).toEqual([...fields].sort());
}

async function expectNotValid(secret: string) {
  expectError(await grpcError(svc.tokens.validateAuthToken({ authToken: secret })), status.NOT_FOUND, 'ERR_AUTH_TOKEN_NOT_FOUND');
}

async function expectValid(secret: string, tokenId: string) {
  const validated = await svc.tokens.validateAuthToken({ authToken: secret });
  expect(validated.authToken!.tokenId).toBe(tokenId);
}

async function activeIds(s: TestService, uid: string): Promise<string[]> {
  return (await s.tokens.listAuthTokens({ uid })).authTokens.map((t) => t.tokenId);
}

/** `secret` with one character of its random part changed, so that its checksum no longer matches. */
function withOneCharChanged(secret: string): string {
  const i = secret.lastIndexOf('_') + 5;
  const changed = secret[i] === 'A' ? 'B' : 'A';
  return secret.slice(0, i) + changed + secret.slice(i + 1);
}

/** A JSON object whose serialized form is exactly `bytes` bytes long. */
function jsonOfBytes(bytes: number): Record<string, string> {
  return { k: 'x'.repeat(bytes - 8) };
}

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
    await expectNotValid(first.secret);
    await expectValid(second.secret, second.tokenId);
    await expectValid(other.secret, other.tokenId);

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
    await expectValid(first.secret, first.tokenId);
    await expectValid(second.secret, second.tokenId);
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
      await expectValid(t.secret, t.tokenId);
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

    await expectNotValid(oldest!.authToken);
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
    await expectValid(rest[0]!.secret, rest[0]!.tokenId);
    await expectValid(newest.secret, newest.tokenId);

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
    await expectValid(existing.secret, existing.tokenId);
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

describe('ListAuthTokens', () => {
  test('pages newest first with page_size 7, every id exactly once', async () => {
    await createUser(svc, 'lt-pages');
    const issued = await issueMany(svc, 'lt-pages', 20);
    const expected = issued.map((t) => t.tokenId).reverse();

    const seen: string[] = [];
    const pageSizes: number[] = [];
    let pageToken = '';
    do {
      const page = await svc.tokens.listAuthTokens({ uid: 'lt-pages', pageSize: 7, pageToken });
      expect(page.totalSize).toBe(20);
      for (const t of page.authTokens) expect(t.authToken).toBe('');
      seen.push(...page.authTokens.map((t) => t.tokenId));
      pageSizes.push(page.authTokens.length);
      pageToken = page.nextPageToken;
    } while (pageToken !== '' && pageSizes.length < 10);
    expect(pageSizes).toEqual([7, 7, 6]);
    expect(seen).toEqual(expected);

    const createTimes = (await svc.tokens.listAuthTokens({ uid: 'lt-pages' })).authTokens.map((t) => t.createTime!.getTime());
    expect(createTimes).toEqual([...createTimes].sort((a, b) => b - a));
  });

  test('a page that ends exactly at the last token has an empty next_page_token', async () => {
    await createUser(svc, 'lt-exact');
    const issued = await issueMany(svc, 'lt-exact', 4);
    const first = await svc.tokens.listAuthTokens({ uid: 'lt-exact', pageSize: 2 });
    expect(first.nextPageToken).not.toBe('');
    const second = await svc.tokens.listAuthTokens({ uid: 'lt-exact', pageSize: 2, pageToken: first.nextPageToken });
    expect(second.nextPageToken).toBe('');
    expect([...first.authTokens, ...second.authTokens].map((t) => t.tokenId)).toEqual(
      issued.map((t) => t.tokenId).reverse(),
    );
  });

  test('a user without tokens lists nothing', async () => {
    await createUser(svc, 'lt-empty');
    expect(await svc.tokens.listAuthTokens({ uid: 'lt-empty' })).toEqual({ authTokens: [], nextPageToken: '', totalSize: 0 });
  });

  describe('page_size bounds (cap raised to 150)', () => {
    let big: TestService;
    let ids: string[];
    beforeAll(async () => {
      big = await startTestService({ MAX_TOKENS_PER_USER: '150' });
      await createUser(big, 'lt-big');
      ids = (await issueMany(big, 'lt-big', 120)).map((t) => t.tokenId).reverse();
    });
    afterAll(() => big?.stop());

    test('page_size 0 returns 100', async () => {
      const page = await big.tokens.listAuthTokens({ uid: 'lt-big', pageSize: 0 });
      expect(page.totalSize).toBe(120);
      expect(page.authTokens.map((t) => t.tokenId)).toEqual(ids.slice(0, 100));
      expect(page.nextPageToken).not.toBe('');
      const rest = await big.tokens.listAuthTokens({ uid: 'lt-big', pageToken: page.nextPageToken });
      expect(rest.authTokens.map((t) => t.tokenId)).toEqual(ids.slice(100));
      expect(rest.nextPageToken).toBe('');
    });

    test('page_size above 100 is lowered to 100', async () => {
      for (const pageSize of [101, 1000, 2 ** 31 - 1]) {
        const page = await big.tokens.listAuthTokens({ uid: 'lt-big', pageSize });
        expect(page.authTokens.map((t) => t.tokenId)).toEqual(ids.slice(0, 100));
        expect(page.nextPageToken).not.toBe('');
      }
    });
  });

  test('ERR_BAD_REQUEST for a negative page_size, a garbage or foreign page_token', async () => {
    await createUser(svc, 'lt-bad-a');
    await createUser(svc, 'lt-bad-b');
    await issueMany(svc, 'lt-bad-a', 3);
    await issueMany(svc, 'lt-bad-b', 3);
    const page = await svc.tokens.listAuthTokens({ uid: 'lt-bad-a', pageSize: 1 });
    expect(page.nextPageToken).not.toBe('');
    await svc.tokens.deleteAuthToken({ uid: 'lt-bad-a', authToken: page.authTokens[0]!.tokenId });
    await svc.tokens.deleteAuthToken({ uid: 'lt-bad-a', authToken: (await activeIds(svc, 'lt-bad-a'))[0]! });
    const archivePage = await svc.tokens.listArchivedAuthTokens({ uid: 'lt-bad-a', pageSize: 1 });
    expect(archivePage.nextPageToken).not.toBe('');

    const cases: [string, object, string[]][] = [
      ['negative page_size', { uid: 'lt-bad-a', pageSize: -1 }, ['page_size']],
      ['garbage page_token', { uid: 'lt-bad-a', pageToken: 'garbage!!' }, ['page_token']],
      ['base64 garbage page_token', { uid: 'lt-bad-a', pageToken: Buffer.from('{"v":2}').toString('base64url') }, ['page_token']],
      ['page_token of another uid', { uid: 'lt-bad-b', pageToken: page.nextPageToken }, ['page_token']],
      ['page_token of the archive listing', { uid: 'lt-bad-a', pageToken: archivePage.nextPageToken }, ['page_token']],
      ['both at once', { uid: 'lt-bad-a', pageSize: -5, pageToken: 'x' }, ['page_size', 'page_token']],
    ];
    for (const [label, request, fields] of cases) {
      const error = await grpcError(svc.tokens.listAuthTokens(request));
      expect({ label, code: error.code, reason: error.reason, fields: [...error.fields].sort() }).toEqual({
        label,
        code: status.INVALID_ARGUMENT,
        reason: 'ERR_BAD_REQUEST',
        fields,
      });
    }

    // The listing of archived tokens checks its page tokens the same way.
    const foreign = await grpcError(svc.tokens.listArchivedAuthTokens({ uid: 'lt-bad-b', pageToken: archivePage.nextPageToken }));
    expectError(foreign, status.INVALID_ARGUMENT, 'ERR_BAD_REQUEST', ['page_token']);
    const tokensToken = await grpcError(svc.tokens.listArchivedAuthTokens({ uid: 'lt-bad-a', pageToken: page.nextPageToken }));
    expectError(tokensToken, status.INVALID_ARGUMENT, 'ERR_BAD_REQUEST', ['page_token']);
    const negative = await grpcError(svc.tokens.listArchivedAuthTokens({ uid: 'lt-bad-a', pageSize: -1 }));
    expectError(negative, status.INVALID_ARGUMENT, 'ERR_BAD_REQUEST', ['page_size']);
  });
});

describe('ListArchivedAuthTokens', () => {
  test('pages most recently archived first, every archived token exactly once', async () => {
    await createUser(svc, 'la-pages');
    const issued = await issueMany(svc, 'la-pages', 5);
    for (const t of issued) await svc.tokens.deleteAuthToken({ uid: 'la-pages', authToken: t.tokenId });

    const seen: string[] = [];
    let pageToken = '';
    let pages = 0;
    do {
      const page = await svc.tokens.listArchivedAuthTokens({ uid: 'la-pages', pageSize: 2, pageToken });
      for (const a of page.archivedAuthTokens) {
        expect(a.reason).toBe(ArchiveReason.ARCHIVE_REASON_DELETED);
        expect(a.authToken!.authToken).toBe('');
      }
      seen.push(...page.archivedAuthTokens.map((a) => a.authToken!.tokenId));
      pageToken = page.nextPageToken;
      pages++;
    } while (pageToken !== '' && pages < 10);
    expect(pages).toBe(3);
    expect(seen).toEqual(issued.map((t) => t.tokenId).reverse());
  });

  test('a user with nothing archived lists nothing', async () => {
    await createUser(svc, 'la-empty');
    await issue(svc, 'la-empty');
    expect(await svc.tokens.listArchivedAuthTokens({ uid: 'la-empty' })).toEqual({ archivedAuthTokens: [], nextPageToken: '' });
  });
});

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

describe('DeleteAuthToken', () => {
  test('by secret and by token_id archives as DELETED; a second delete is ERR_AUTH_TOKEN_NOT_FOUND', async () => {
    await createUser(svc, 'dt-user');
    const bySecret = await issue(svc, 'dt-user', { platform: 'ios', deviceId: 'd1' });
    const byId = await issue(svc, 'dt-user');
    const kept = await issue(svc, 'dt-user');

    const before = Date.now();
    const first = await svc.tokens.deleteAuthToken({ uid: 'dt-user', authToken: bySecret.secret });
    const after = Date.now();
    expect(first.archivedAuthToken!.reason).toBe(ArchiveReason.ARCHIVE_REASON_DELETED);
    expect(first.archivedAuthToken!.authToken).toEqual({ ...bySecret.token, authToken: '' });
    expect(first.archivedAuthToken!.archiveTime!.getTime()).toBeGreaterThanOrEqual(before);
    expect(first.archivedAuthToken!.archiveTime!.getTime()).toBeLessThanOrEqual(after);

    const second = await svc.tokens.deleteAuthToken({ uid: 'dt-user', authToken: byId.tokenId });
    expect(second.archivedAuthToken!.reason).toBe(ArchiveReason.ARCHIVE_REASON_DELETED);
    expect(second.archivedAuthToken!.authToken!.tokenId).toBe(byId.tokenId);

    expect(await activeIds(svc, 'dt-user')).toEqual([kept.tokenId]);
    await expectNotValid(bySecret.secret);
    await expectNotValid(byId.secret);
    await expectValid(kept.secret, kept.tokenId);

    const archived = await allArchived(svc, 'dt-user');
    expect(archived).toEqual([second.archivedAuthToken, first.archivedAuthToken]);

    const before2 = await snapshot(svc);
    for (const authToken of [bySecret.secret, bySecret.tokenId, byId.secret, byId.tokenId]) {
      expectError(
        await grpcError(svc.tokens.deleteAuthToken({ uid: 'dt-user', authToken })),
        status.NOT_FOUND,
        'ERR_AUTH_TOKEN_NOT_FOUND',
      );
    }
    expect(await snapshot(svc)).toEqual(before2);
  });

  test("ERR_AUTH_TOKEN_NOT_FOUND for another user's token, which stays active", async () => {
    await createUser(svc, 'dt-a');
    await createUser(svc, 'dt-b');
    const b = await issue(svc, 'dt-b');
    for (const authToken of [b.secret, b.tokenId]) {
      expectError(
        await grpcError(svc.tokens.deleteAuthToken({ uid: 'dt-a', authToken })),
        status.NOT_FOUND,
        'ERR_AUTH_TOKEN_NOT_FOUND',
      );
    }
    await expectValid(b.secret, b.tokenId);
  });
});

describe('FlushAuthTokens', () => {
  test('archives every active token as FLUSHED and returns how many', async () => {
    await createUser(svc, 'ft-user');
    const issued = await issueMany(svc, 'ft-user', 4);
    const earlier = await issue(svc, 'ft-user');
    await svc.tokens.deleteAuthToken({ uid: 'ft-user', authToken: earlier.tokenId });

    expect(await svc.tokens.flushAuthTokens({ uid: 'FT-User' })).toEqual({ deletedCount: 4 });
    expect(await svc.tokens.listAuthTokens({ uid: 'ft-user' })).toEqual({ authTokens: [], nextPageToken: '', totalSize: 0 });
    for (const t of issued) await expectNotValid(t.secret);

    expect(reasonsById(await allArchived(svc, 'ft-user'))).toEqual({
      ...Object.fromEntries(issued.map((t) => [t.tokenId, ArchiveReason.ARCHIVE_REASON_FLUSHED])),
      [earlier.tokenId]: ArchiveReason.ARCHIVE_REASON_DELETED,
    });

    // The user remains and can get new tokens.
    expect((await svc.users.getUser({ uid: 'ft-user' })).uid).toBe('ft-user');
    const fresh = await issue(svc, 'ft-user');
    await expectValid(fresh.secret, fresh.tokenId);
  });

  test('a user with no tokens flushes 0 and archives nothing', async () => {
    await createUser(svc, 'ft-empty');
    const before = await svc.db.collection('archived_tokens').countDocuments();
    expect(await svc.tokens.flushAuthTokens({ uid: 'ft-empty' })).toEqual({ deletedCount: 0 });
    expect(await svc.tokens.flushAuthTokens({ uid: 'ft-empty' })).toEqual({ deletedCount: 0 });
    expect(await svc.db.collection('archived_tokens').countDocuments()).toBe(before);
  });
});

describe('every method', () => {
  test('ERR_UID_NOT_FOUND for an unknown uid', async () => {
    await createUser(svc, 'em-real');
    const real = await issue(svc, 'em-real');
    const before = await snapshot(svc);
    const uid = 'EM-Ghost';
    const calls: [string, () => Promise<unknown>][] = [
      ['createAuthToken', () => svc.tokens.createAuthToken({ uid })],
      ['listAuthTokens', () => svc.tokens.listAuthTokens({ uid })],
      ['getAuthToken by id', () => svc.tokens.getAuthToken({ uid, authToken: real.tokenId })],
      ['getAuthToken by secret', () => svc.tokens.getAuthToken({ uid, authToken: real.secret })],
      ['updateAuthToken', () => svc.tokens.updateAuthToken({ uid, authToken: real.tokenId, platform: 'x' })],
      ['updateAuthToken without changes', () => svc.tokens.updateAuthToken({ uid, authToken: real.tokenId })],
      ['deleteAuthToken', () => svc.tokens.deleteAuthToken({ uid, authToken: real.tokenId })],
      ['flushAuthTokens', () => svc.tokens.flushAuthTokens({ uid })],
      ['listArchivedAuthTokens', () => svc.tokens.listArchivedAuthTokens({ uid })],
    ];
    for (const [method, call] of calls) {
      const error = await grpcError(call());
      expect({ method, code: error.code, reason: error.reason, metadata: error.metadata }).toEqual({
        method,
        code: status.NOT_FOUND,
        reason: 'ERR_UID_NOT_FOUND',
        metadata: { uid: 'em-ghost' },
      });
    }
    expect(await snapshot(svc)).toEqual(before);
    await expectValid(real.secret, real.tokenId);
  });

  test('ERR_BAD_REQUEST on field auth_token for a malformed token', async () => {
    await createUser(svc, 'em-malformed');
    const real = await issue(svc, 'em-malformed');
    const before = await snapshot(svc);
    const malformed = [
      'nope',
      withOneCharChanged(real.secret),
      real.secret.slice(0, -1),
      `${real.secret}x`,
      real.secret.toUpperCase(),
      real.tokenId.slice(0, -1),
      `tid_${'A'.repeat(21)}!`,
      '',
    ];
    expect(withOneCharChanged(real.secret)).not.toBe(real.secret);
    for (const authToken of malformed) {
      const calls: [string, () => Promise<unknown>][] = [
        ['getAuthToken', () => svc.tokens.getAuthToken({ uid: 'em-malformed', authToken })],
        ['updateAuthToken', () => svc.tokens.updateAuthToken({ uid: 'em-malformed', authToken, platform: 'x' })],
        ['deleteAuthToken', () => svc.tokens.deleteAuthToken({ uid: 'em-malformed', authToken })],
        ['validateAuthToken', () => svc.tokens.validateAuthToken({ authToken })],
      ];
      for (const [method, call] of calls) {
        const error = await grpcError(call());
        expect({ authToken, method, code: error.code, reason: error.reason, fields: error.fields }).toEqual({
          authToken,
          method,
          code: status.INVALID_ARGUMENT,
          reason: 'ERR_BAD_REQUEST',
          fields: ['auth_token'],
        });
      }
    }
    expect(await snapshot(svc)).toEqual(before);
    await expectValid(real.secret, real.tokenId);
  });

  test('ERR_BAD_REQUEST on field uid for a malformed uid', async () => {
    const uid = 'Not Valid!';
    const calls: [string, () => Promise<unknown>][] = [
      ['createAuthToken', () => svc.tokens.createAuthToken({ uid })],
      ['listAuthTokens', () => svc.tokens.listAuthTokens({ uid })],
      ['getAuthToken', () => svc.tokens.getAuthToken({ uid, authToken: `tid_${'A'.repeat(22)}` })],
      ['updateAuthToken', () => svc.tokens.updateAuthToken({ uid, authToken: `tid_${'A'.repeat(22)}`, platform: 'x' })],
      ['deleteAuthToken', () => svc.tokens.deleteAuthToken({ uid, authToken: `tid_${'A'.repeat(22)}` })],
      ['flushAuthTokens', () => svc.tokens.flushAuthTokens({ uid })],
      ['listArchivedAuthTokens', () => svc.tokens.listArchivedAuthTokens({ uid })],
    ];
    for (const [method, call] of calls) {
      const error = await grpcError(call());
      expect({ method, code: error.code, reason: error.reason, fields: error.fields }).toEqual({
        method,
        code: status.INVALID_ARGUMENT,
        reason: 'ERR_BAD_REQUEST',
        fields: ['uid'],
      });
    }
  });
});
