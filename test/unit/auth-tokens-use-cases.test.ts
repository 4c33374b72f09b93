// The rules of AuthTokenService's use cases (update masks, paging, replacement on re-login, the cap,
// last-use recording) on the in-memory store and a clock the test moves. The store behaves as
// MongoTokenStore does: test/integration/token-store-contract.test.ts holds both to one contract.
import { describe, expect, test } from 'vitest';
import { AuthTokens, NO_DEVICE } from '../../src/domain/auth-tokens';
import { callDeadline } from '../../src/domain/deadline';
import { DomainError, ErrorReason } from '../../src/domain/errors';
import { ArchiveReason, type DeviceInfo } from '../../src/domain/model';
import { encodePageToken } from '../../src/domain/page-token';
import { LAST_USE_WRITE_INTERVAL_MS, PAGE_SIZE_MAX } from '../../src/domain/rules';
import type { TokenActivity } from '../../src/domain/token-activity';
import { Users } from '../../src/domain/users';
import { InMemoryTokenStore } from '../support/in-memory-token-store';

const T0 = new Date('2026-06-01T12:00:00.000Z').getTime();
const soon = () => callDeadline(Infinity);

/** The use cases over a fresh store, on a clock that moves only when the test says so. */
function service({ maxTokensPerUser = 100 } = {}) {
  let now = T0;
  const clock = () => new Date(now);
  const store = new InMemoryTokenStore();
  const archived: [string, number][] = [];
  const events: TokenActivity = { issued() {}, validated() {}, archived: (reason, count) => void (count > 0 && archived.push([reason, count])) };
  const tokens = new AuthTokens(store, { maxTokensPerUser }, events, clock);
  const users = new Users(store, events, undefined, clock);
  return {
    tokens,
    users,
    /** The archive events reported, with a non-zero count. */
    archived,
    now: clock,
    tick: (ms = 1_000) => void (now += ms),
    async user(uid = 'alice') {
      await users.create({ uid, name: uid, metadata: undefined, withAuthToken: false }, soon());
      return uid;
    },
    async issue(uid: string, device: Partial<DeviceInfo> = {}, force = false) {
      const created = await tokens.create({ uid, ...NO_DEVICE, ...device, force }, soon());
      return { ...created, tokenId: created.authToken.tokenId };
    },
    validate: (secret: string, device: Partial<DeviceInfo> = {}) => tokens.validate({ authToken: secret, ...NO_DEVICE, ...device }, soon()),
    list: (uid: string, pageSize = 0, pageToken = '') => tokens.list({ uid, pageSize, pageToken }, soon()),
    listArchived: (uid: string, pageSize = 0, pageToken = '') => tokens.listArchived({ uid, pageSize, pageToken }, soon()),
  };
}

async function failure(pending: Promise<unknown>): Promise<DomainError> {
  const error: unknown = await pending.then(
    () => expect.fail('expected the call to fail, but it succeeded'),
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(DomainError);
  return error as DomainError;
}

/** The reason a call fails with, and for BAD_REQUEST the fields it names. */
async function rejection(pending: Promise<unknown>): Promise<{ reason: string; fields: string[] }> {
  const error = await failure(pending);
  return { reason: error.reason, fields: error.fieldViolations.map((v) => v.field) };
}

const badRequest = (...fields: string[]) => ({ reason: ErrorReason.BAD_REQUEST, fields });

describe('UpdateAuthToken', () => {
  const device = { platform: 'ios', deviceId: 'phone', userAgent: 'App/1', appInfo: { v: 1 } };
  const update = (s: ReturnType<typeof service>, authToken: string, fields: { platform?: string; userAgent?: string; appInfo?: { v: number } }, updateMask?: string[]) =>
    s.tokens.update({ uid: 'alice', authToken, platform: '', userAgent: '', appInfo: undefined, ...fields, updateMask }, soon());

  test('without a mask changes every field given, and leaves the empty ones', async () => {
    const s = service();
    const { tokenId, authToken } = await s.issue(await s.user(), device);
    s.tick();
    const updated = await update(s, tokenId, { platform: 'android' });
    expect(updated).toEqual({ ...authToken, platform: 'android', updateTime: s.now() });
  });

  test('with a mask changes exactly the named fields: an empty value clears one, an unnamed one is ignored', async () => {
    const s = service();
    const { tokenId, authToken } = await s.issue(await s.user(), device);
    s.tick();
    const updated = await update(s, tokenId, { platform: 'web' }, ['user_agent', 'app_info']);
    expect(updated).toEqual({ ...authToken, userAgent: '', appInfo: undefined, updateTime: s.now() });
    expect(await s.tokens.get({ uid: 'alice', authToken: tokenId }, soon())).toEqual(updated);
  });

  test('with nothing to change answers the token as it is, without writing (its update time stays)', async () => {
    const s = service();
    const { tokenId, authToken } = await s.issue(await s.user(), device);
    s.tick();
    expect(await update(s, tokenId, {})).toEqual(authToken);
  });

  test.each([[['device_id']], [['platform', 'token_id']], [['create_time']]])('rejects the mask %j: only platform, user_agent and app_info may change', async (mask) => {
    const s = service();
    const { tokenId, authToken } = await s.issue(await s.user(), device);
    expect(await rejection(update(s, tokenId, { platform: 'web' }, mask))).toEqual(badRequest('update_mask'));
    expect(await s.tokens.get({ uid: 'alice', authToken: tokenId }, soon())).toEqual(authToken);
  });

  test('finds the token by its secret too, but not by another user\'s secret, nor for an unknown user', async () => {
    const s = service();
    const { secret } = await s.issue(await s.user(), device);
    expect((await update(s, secret, { platform: 'web' })).platform).toBe('web');
    const bob = await s.issue(await s.user('bob'));
    expect((await rejection(update(s, bob.secret, { platform: 'web' }))).reason).toBe(ErrorReason.AUTH_TOKEN_NOT_FOUND);
    const unknown = s.tokens.update({ uid: 'nobody', authToken: bob.tokenId, platform: 'web', userAgent: '', appInfo: undefined, updateMask: undefined }, soon());
    expect((await rejection(unknown)).reason).toBe(ErrorReason.UID_NOT_FOUND);
  });
});

describe('ListAuthTokens paging', () => {
  /** Every page of the listing, following next_page_token. */
  async function allPages(s: ReturnType<typeof service>, uid: string, pageSize: number) {
    const pages = [];
    let pageToken = '';
    do {
      const page = await s.list(uid, pageSize, pageToken);
      pages.push(page);
      pageToken = page.nextPageToken;
    } while (pageToken !== '' && pages.length < 100);
    return pages;
  }

  test('pages newest first; the last page has no next_page_token, even when it is exactly full', async () => {
    for (const count of [5, 4]) {
      const s = service();
      const uid = await s.user();
      const ids = [];
      for (let i = 0; i < count; i++, s.tick()) ids.push((await s.issue(uid)).tokenId);
      const pages = await allPages(s, uid, 2);
      expect(pages.map((p) => p.items.map((t) => t.tokenId))).toEqual(
        count === 5 ? [[ids[4], ids[3]], [ids[2], ids[1]], [ids[0]]] : [[ids[3], ids[2]], [ids[1], ids[0]]],
      );
      expect(pages.map((p) => p.nextPageToken === '')).toEqual(pages.map((_, i) => i === pages.length - 1));
      expect(pages.map((p) => p.totalSize)).toEqual(pages.map(() => count));
    }
  });

  test('tokens created in the same millisecond page in creation order, none twice and none skipped', async () => {
    const s = service();
    const uid = await s.user();
    const ids = [];
    for (let i = 0; i < 7; i++) ids.push((await s.issue(uid)).tokenId);
    const pages = await allPages(s, uid, 3);
    expect(pages.flatMap((p) => p.items.map((t) => t.tokenId))).toEqual(ids.reverse());
  });

  test('is a keyset: a page continues after the last token seen, whatever was deleted or created since', async () => {
    const s = service();
    const uid = await s.user();
    const ids = [];
    for (let i = 0; i < 5; i++, s.tick()) ids.push((await s.issue(uid)).tokenId);
    const first = await s.list(uid, 2);
    await s.tokens.delete({ uid, authToken: ids[3]! }, soon());
    await s.issue(uid);
    const second = await s.list(uid, 2, first.nextPageToken);
    expect(second.items.map((t) => t.tokenId)).toEqual([ids[2], ids[1]]);
    expect(second.totalSize).toBe(5);
  });

  test(`page_size 0 means ${PAGE_SIZE_MAX}, and a larger one is lowered to it`, async () => {
    const s = service({ maxTokensPerUser: PAGE_SIZE_MAX + 50 });
    const uid = await s.user();
    for (let i = 0; i <= PAGE_SIZE_MAX; i++) await s.issue(uid);
    for (const pageSize of [0, PAGE_SIZE_MAX + 1, 1_000]) {
      const first = await s.list(uid, pageSize);
      expect(first.items).toHaveLength(PAGE_SIZE_MAX);
      expect((await s.list(uid, pageSize, first.nextPageToken)).items).toHaveLength(1);
    }
  });

  test('rejects a negative page_size, and a page token from another uid, another listing or nowhere', async () => {
    const s = service();
    const uid = await s.user();
    await s.user('bob');
    for (let i = 0; i < 3; i++) await s.issue(uid);
    const fromAlice = (await s.list(uid, 1)).nextPageToken;
    expect(await rejection(s.list(uid, -1))).toEqual(badRequest('page_size'));
    expect(await rejection(s.list('bob', 1, fromAlice))).toEqual(badRequest('page_token'));
    expect(await rejection(s.list(uid, 1, encodePageToken('archive', uid, { time: new Date(T0), id: 'x' })))).toEqual(badRequest('page_token'));
    expect(await rejection(s.list(uid, 1, 'not-a-token'))).toEqual(badRequest('page_token'));
  });

  test('an unknown user is UID_NOT_FOUND; a user without tokens is one empty page', async () => {
    const s = service();
    expect((await rejection(s.list('nobody'))).reason).toBe(ErrorReason.UID_NOT_FOUND);
    expect(await s.list(await s.user())).toEqual({ items: [], nextPageToken: '', totalSize: 0 });
  });
});

describe('ListArchivedAuthTokens paging', () => {
  test('pages most recently archived first, each with its reason; the last page has no next_page_token', async () => {
    const s = service();
    const uid = await s.user();
    const ids = [];
    for (let i = 0; i < 4; i++, s.tick()) ids.push((await s.issue(uid)).tokenId);
    await s.tokens.delete({ uid, authToken: ids[0]! }, soon());
    s.tick();
    await s.tokens.delete({ uid, authToken: ids[1]! }, soon());
    s.tick();
    expect(await s.tokens.flush({ uid }, soon())).toBe(2);

    const first = await s.listArchived(uid, 2);
    const second = await s.listArchived(uid, 2, first.nextPageToken);
    const seen = [...first.items, ...second.items];
    // The two flushed in one moment come in token id order, newest (greatest) first.
    expect(seen.map((a) => a.authToken.tokenId)).toEqual([...[ids[2]!, ids[3]!].sort().reverse(), ids[1], ids[0]]);
    expect(seen.map((a) => a.reason)).toEqual([ArchiveReason.FLUSHED, ArchiveReason.FLUSHED, ArchiveReason.DELETED, ArchiveReason.DELETED]);
    expect(first.nextPageToken).not.toBe('');
    expect(second.nextPageToken).toBe('');
  });

  test('outlives the user: a deleted user\'s tokens list as USER_DELETED; a uid never known is UID_NOT_FOUND', async () => {
    const s = service();
    const uid = await s.user();
    await s.issue(uid);
    await s.issue(uid);
    expect(await s.users.delete({ uid }, soon())).toBe(2);
    const page = await s.listArchived(uid);
    expect(page.items.map((a) => a.reason)).toEqual([ArchiveReason.USER_DELETED, ArchiveReason.USER_DELETED]);
    expect(page.nextPageToken).toBe('');
    expect((await rejection(s.listArchived('nobody'))).reason).toBe(ErrorReason.UID_NOT_FOUND);
    expect(await s.listArchived(await s.user('bob'))).toEqual({ items: [], nextPageToken: '' });
  });
});

describe('CreateAuthToken on re-login', () => {
  test('with the same device_id replaces that device\'s token: the old secret stops working, other devices\' do not', async () => {
    const s = service();
    const uid = await s.user();
    const phone = await s.issue(uid, { deviceId: 'phone' });
    const tablet = await s.issue(uid, { deviceId: 'tablet' });
    const again = await s.issue(uid, { deviceId: 'phone' });
    expect(again.replacedTokenIds).toEqual([phone.tokenId]);
    expect(again.evictedTokenIds).toEqual([]);
    expect((await rejection(s.validate(phone.secret))).reason).toBe(ErrorReason.AUTH_TOKEN_NOT_FOUND);
    expect((await s.validate(tablet.secret)).authToken.tokenId).toBe(tablet.tokenId);
    expect((await s.validate(again.secret)).authToken.tokenId).toBe(again.tokenId);
    expect((await s.listArchived(uid)).items.map((a) => [a.authToken.tokenId, a.reason])).toEqual([[phone.tokenId, ArchiveReason.REPLACED]]);
    expect(s.archived).toEqual([[ArchiveReason.REPLACED, 1]]);
  });

  test('with force keeps the device\'s other tokens; without a device_id nothing is replaced', async () => {
    const s = service();
    const uid = await s.user();
    await s.issue(uid, { deviceId: 'phone' });
    expect((await s.issue(uid, { deviceId: 'phone' }, true)).replacedTokenIds).toEqual([]);
    await s.issue(uid);
    expect((await s.issue(uid)).replacedTokenIds).toEqual([]);
    expect((await s.list(uid)).totalSize).toBe(4);
  });

  test('a token issued without a device_id is bound to the first one it is validated with, and a re-login there replaces it', async () => {
    const s = service();
    const uid = await s.user();
    const first = await s.issue(uid);
    expect((await s.validate(first.secret, { deviceId: 'phone' })).authToken.deviceId).toBe('phone');
    // Bound once: a later validation from another device does not rebind it.
    s.tick(LAST_USE_WRITE_INTERVAL_MS);
    expect((await s.validate(first.secret, { deviceId: 'tablet' })).authToken.deviceId).toBe('phone');
    expect((await s.issue(uid, { deviceId: 'phone' })).replacedTokenIds).toEqual([first.tokenId]);
  });
});

describe('the cap on tokens per user', () => {
  test('creating past it evicts exactly the oldest token, whose secret then stops working', async () => {
    const s = service({ maxTokensPerUser: 3 });
    const uid = await s.user();
    const issued = [];
    for (let i = 0; i < 3; i++, s.tick()) issued.push(await s.issue(uid));
    const fourth = await s.issue(uid);
    expect(fourth.evictedTokenIds).toEqual([issued[0]!.tokenId]);
    expect((await s.list(uid)).items.map((t) => t.tokenId)).toEqual([fourth, issued[2]!, issued[1]!].map((t) => t.tokenId));
    expect((await rejection(s.validate(issued[0]!.secret))).reason).toBe(ErrorReason.AUTH_TOKEN_NOT_FOUND);
    expect((await s.listArchived(uid)).items.map((a) => [a.authToken.tokenId, a.reason])).toEqual([[issued[0]!.tokenId, ArchiveReason.EVICTED]]);
    expect(s.archived).toEqual([[ArchiveReason.EVICTED, 1]]);
  });

  test('never evicts the token just created, even when every token was created in the same millisecond', async () => {
    const s = service({ maxTokensPerUser: 2 });
    const uid = await s.user();
    const issued = [];
    for (let i = 0; i < 5; i++) issued.push(await s.issue(uid));
    expect(issued.map((t) => t.evictedTokenIds)).toEqual([[], [], [issued[0]!.tokenId], [issued[1]!.tokenId], [issued[2]!.tokenId]]);
    expect((await s.list(uid)).items.map((t) => t.tokenId)).toEqual([issued[4]!.tokenId, issued[3]!.tokenId]);
  });

  test('a re-login at the cap replaces its own token and evicts nothing', async () => {
    const s = service({ maxTokensPerUser: 2 });
    const uid = await s.user();
    const phone = await s.issue(uid, { deviceId: 'phone' });
    const tablet = await s.issue(uid, { deviceId: 'tablet' });
    const again = await s.issue(uid, { deviceId: 'phone' });
    expect(again).toMatchObject({ replacedTokenIds: [phone.tokenId], evictedTokenIds: [] });
    expect((await s.list(uid)).items.map((t) => t.tokenId)).toEqual([again.tokenId, tablet.tokenId]);
  });
});

describe('ValidateAuthToken', () => {
  test('records last use at most once a minute, and device fields that differ at once', async () => {
    const s = service();
    const { secret, tokenId } = await s.issue(await s.user(), { platform: 'ios', userAgent: 'App/1' });
    const firstUse = s.now();
    expect((await s.validate(secret, { userAgent: 'App/2' })).authToken).toMatchObject({ lastUsedTime: firstUse, userAgent: 'App/2' });
    // Within the minute, the same information: nothing is written.
    s.tick(LAST_USE_WRITE_INTERVAL_MS - 2);
    expect((await s.validate(secret, { userAgent: 'App/2', platform: 'ios' })).authToken).toMatchObject({ lastUsedTime: firstUse });
    // Within the minute, information that differs: written at once, with the use.
    s.tick(1);
    const changedAt = s.now();
    expect((await s.validate(secret, { userAgent: 'App/3' })).authToken).toMatchObject({ lastUsedTime: changedAt, userAgent: 'App/3' });
    // A minute after the last write: last use again.
    s.tick(LAST_USE_WRITE_INTERVAL_MS);
    expect((await s.validate(secret)).authToken).toMatchObject({ lastUsedTime: s.now(), userAgent: 'App/3' });
    expect(await s.tokens.get({ uid: 'alice', authToken: tokenId }, soon())).toMatchObject({ lastUsedTime: s.now(), userAgent: 'App/3' });
  });

  test('a flushed token is not valid; flush reports exactly how many it archived', async () => {
    const s = service();
    const uid = await s.user();
    const issued = [await s.issue(uid), await s.issue(uid), await s.issue(uid)];
    expect(await s.tokens.flush({ uid }, soon())).toBe(3);
    for (const { secret } of issued) expect((await rejection(s.validate(secret))).reason).toBe(ErrorReason.AUTH_TOKEN_NOT_FOUND);
    expect(await s.tokens.flush({ uid }, soon())).toBe(0);
    expect(s.archived).toEqual([[ArchiveReason.FLUSHED, 3]]);
  });
});
