// The TokenStore contract: one set of cases, run against MongoTokenStore on the run's mongod and
// against the in-memory store the use-case unit tests use, so the fast tests stand on the same
// behaviour as the real one. Clocks are explicit: the store is given times the service would
// never choose on its own (a replica whose clock is behind, several tokens in one millisecond).
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, test } from 'vitest';
import { NO_DEVICE, newToken, publicView } from '../../src/domain/auth-tokens';
import { type Deadline, callDeadline } from '../../src/domain/deadline';
import { DomainError, ErrorReason, callCancelled } from '../../src/domain/errors';
import { ArchiveReason, type ArchivedAuthToken, type AuthToken, type DeviceInfo, type User } from '../../src/domain/model';
import { newestFirst } from '../../src/domain/rules';
import { hashToken } from '../../src/domain/token-format';
import type { TokenStore } from '../../src/domain/token-store';
import { createLogger } from '../../src/observability/logger';
import { openDatabase } from '../../src/storage/database';
import { InMemoryTokenStore } from '../support/in-memory-token-store';

interface OpenStore {
  store: TokenStore;
  close(): Promise<void>;
}

/** A deadline for store calls: the default budget a gRPC call without one gets. */
const soon = () => callDeadline(Infinity);
const T0 = new Date('2026-06-01T12:00:00.000Z').getTime();
/** `seconds` after T0. */
const at = (seconds: number) => new Date(T0 + seconds * 1000);

let uids = 0;
/** A uid of the test's own: both stores are shared by every case of their suite. */
const freshUid = () => `contract-${++uids}`;

/** The reason of the DomainError `pending` fails with. */
async function reasonOf(pending: Promise<unknown>): Promise<string> {
  const error: unknown = await pending.then(
    () => expect.fail('expected the call to fail, but it succeeded'),
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(DomainError);
  return (error as DomainError).reason;
}

const byNewest = (a: AuthToken, b: AuthToken) =>
  newestFirst({ time: a.createTime, id: a.tokenId }, { time: b.createTime, id: b.tokenId });

function describeTokenStoreContract(name: string, open: () => Promise<OpenStore>) {
  describe(name, () => {
    let opened: OpenStore | undefined;
    let store: TokenStore;
    beforeAll(async () => {
      opened = await open();
      store = opened.store;
    });
    afterAll(() => opened?.close());

    function userRecord(uid: string, createTime = at(0)): User {
      return { uid, name: `Name of ${uid}`, metadata: { team: 'blue', n: 1 }, createTime, updateTime: createTime };
    }

    async function newUser(uid = freshUid()): Promise<string> {
      await store.createUser(userRecord(uid), undefined, soon());
      return uid;
    }

    /** Issues a token for `uid` as AuthTokens does: requested create time = now. */
    async function issue(uid: string, when: Date, { max = 100, device = {}, replace }: { max?: number; device?: Partial<DeviceInfo>; replace?: string } = {}) {
      const { secret, stored } = newToken(uid, { ...NO_DEVICE, ...device }, when);
      const result = await store.issueToken(stored, { replaceDeviceId: replace, maxTokensPerUser: max }, when, soon());
      return { secret, stored, tokenId: stored.tokenId, ...result };
    }

    const activeIds = async (uid: string) => (await store.listTokens(uid, soon())).map((t) => t.tokenId).sort();
    const allArchived = (uid: string) => store.listArchivedTokens(uid, undefined, 1000, soon());
    const reasons = (archived: ArchivedAuthToken[]) => archived.map((a) => [a.authToken.tokenId, a.reason]);

    describe('users', () => {
      test('a created user reads back as given; an unknown one is undefined', async () => {
        const uid = freshUid();
        await store.createUser(userRecord(uid, at(5)), undefined, soon());
        expect(await store.getUser(uid, soon())).toEqual(userRecord(uid, at(5)));
        expect(await store.listTokens(uid, soon())).toEqual([]);
        expect(await store.getUser(freshUid(), soon())).toBeUndefined();
      });

      test('a user created with its first token has exactly that token, findable by its hash', async () => {
        const uid = freshUid();
        const { secret, stored } = newToken(uid, NO_DEVICE, at(0));
        await store.createUser(userRecord(uid), stored, soon());
        expect(await store.listTokens(uid, soon())).toEqual([publicView(stored)]);
        const found = await store.findActiveToken(uid, hashToken(secret), soon());
        expect(found?.user).toEqual(userRecord(uid));
        expect(found?.token).toEqual(stored);
      });

      test('a second user with the same uid fails with UID_ALREADY_EXISTS and changes nothing', async () => {
        const uid = await newUser();
        const again = { ...userRecord(uid, at(9)), name: 'someone else' };
        expect(await reasonOf(store.createUser(again, newToken(uid, NO_DEVICE, at(9)).stored, soon()))).toBe(ErrorReason.UID_ALREADY_EXISTS);
        expect(await store.getUser(uid, soon())).toEqual(userRecord(uid));
        expect(await store.listTokens(uid, soon())).toEqual([]);
      });

      test('deleting a user archives each active token as USER_DELETED and returns how many', async () => {
        const uid = await newUser();
        const a = await issue(uid, at(1));
        const b = await issue(uid, at(2));
        expect(await store.deleteUser(uid, at(10), soon())).toBe(2);
        expect(await store.getUser(uid, soon())).toBeUndefined();
        const archived = await allArchived(uid);
        expect(archived.map((x) => x.reason)).toEqual([ArchiveReason.USER_DELETED, ArchiveReason.USER_DELETED]);
        expect(archived.map((x) => x.archiveTime)).toEqual([at(10), at(10)]);
        expect(archived.map((x) => x.authToken).sort(byNewest)).toEqual([publicView(b.stored), publicView(a.stored)]);
        // The uid is free again, and the new user starts with no tokens; the archive stays.
        await newUser(uid);
        expect(await store.listTokens(uid, soon())).toEqual([]);
        expect(await allArchived(uid)).toHaveLength(2);
      });

      test('deleting a user without tokens returns 0 and archives nothing', async () => {
        const uid = await newUser();
        expect(await store.deleteUser(uid, at(10), soon())).toBe(0);
        expect(await allArchived(uid)).toEqual([]);
      });
    });

    describe('an unknown user', () => {
      const ref = { tokenId: 'tid_0000000000000000000000' };
      const failing: [string, (s: TokenStore, uid: string) => Promise<unknown>][] = [
        ['deleteUser', (s, uid) => s.deleteUser(uid, at(1), soon())],
        ['issueToken', (s, uid) => s.issueToken(newToken(uid, NO_DEVICE, at(1)).stored, { replaceDeviceId: undefined, maxTokensPerUser: 100 }, at(1), soon())],
        ['issueToken replacing a device', (s, uid) => s.issueToken(newToken(uid, NO_DEVICE, at(1)).stored, { replaceDeviceId: 'phone', maxTokensPerUser: 100 }, at(1), soon())],
        ['listTokens', (s, uid) => s.listTokens(uid, soon())],
        ['getToken by id', (s, uid) => s.getToken(uid, ref, soon())],
        ['getToken by hash', (s, uid) => s.getToken(uid, { tokenHash: hashToken('x') }, soon())],
        ['updateToken', (s, uid) => s.updateToken(uid, ref, { platform: 'ios' }, at(1), soon())],
        ['deleteToken', (s, uid) => s.deleteToken(uid, ref, at(1), soon())],
        ['flushTokens', (s, uid) => s.flushTokens(uid, at(1), soon())],
      ];
      test.each(failing)('%s fails with UID_NOT_FOUND', async (_, call) => {
        expect(await reasonOf(call(store, freshUid()))).toBe(ErrorReason.UID_NOT_FOUND);
      });

      test('is no error for the validation calls and the archive: nothing found, nothing written', async () => {
        const uid = freshUid();
        expect(await store.getUser(uid, soon())).toBeUndefined();
        expect(await store.findActiveToken(uid, hashToken('x'), soon())).toBeUndefined();
        expect(await store.recordTokenUse(uid, ref.tokenId, {}, at(1), at(0), soon())).toBe(false);
        expect(await store.listArchivedTokens(uid, undefined, 10, soon())).toEqual([]);
      });
    });

    describe('an unknown token of a known user', () => {
      test('getToken, updateToken and deleteToken fail with AUTH_TOKEN_NOT_FOUND, by id and by hash, also for another user\'s token', async () => {
        const uid = await newUser();
        const mine = await issue(uid, at(1));
        const other = await issue(await newUser(), at(1));
        const refs = [{ tokenId: other.tokenId }, { tokenHash: other.stored.tokenHash }, { tokenId: 'tid_0000000000000000000000' }];
        for (const ref of refs) {
          expect(await reasonOf(store.getToken(uid, ref, soon()))).toBe(ErrorReason.AUTH_TOKEN_NOT_FOUND);
          expect(await reasonOf(store.updateToken(uid, ref, { platform: 'x' }, at(2), soon()))).toBe(ErrorReason.AUTH_TOKEN_NOT_FOUND);
          expect(await reasonOf(store.deleteToken(uid, ref, at(2), soon()))).toBe(ErrorReason.AUTH_TOKEN_NOT_FOUND);
        }
        expect(await activeIds(uid)).toEqual([mine.tokenId]);
        expect(await allArchived(uid)).toEqual([]);
      });
    });

    describe('issueToken', () => {
      test('below the cap stores the token as requested and archives nothing', async () => {
        const uid = await newUser();
        const first = await issue(uid, at(1), { max: 3 });
        const second = await issue(uid, at(2), { max: 3 });
        const third = await issue(uid, at(3), { max: 3 });
        expect(third).toMatchObject({ createTime: at(3), evictedTokenIds: [], replacedTokenIds: [] });
        expect((await store.listTokens(uid, soon())).sort(byNewest)).toEqual([third, second, first].map((t) => publicView(t.stored)));
        expect(await allArchived(uid)).toEqual([]);
      });

      test('at the cap evicts exactly the oldest token to the archive as EVICTED', async () => {
        const uid = await newUser();
        const first = await issue(uid, at(1), { max: 3 });
        const second = await issue(uid, at(2), { max: 3 });
        const third = await issue(uid, at(3), { max: 3 });
        const fourth = await issue(uid, at(4), { max: 3 });
        expect(fourth).toMatchObject({ createTime: at(4), evictedTokenIds: [first.tokenId], replacedTokenIds: [] });
        expect(await activeIds(uid)).toEqual([second.tokenId, third.tokenId, fourth.tokenId].sort());
        expect(await allArchived(uid)).toEqual([{ authToken: publicView(first.stored), archiveTime: at(4), reason: ArchiveReason.EVICTED }]);
      });

      test('over a lowered cap evicts every token beyond it, oldest first', async () => {
        const uid = await newUser();
        const tokens = [];
        for (let i = 1; i <= 4; i++) tokens.push(await issue(uid, at(i)));
        const fifth = await issue(uid, at(5), { max: 2 });
        expect(fifth.evictedTokenIds).toEqual(tokens.slice(0, 3).map((t) => t.tokenId));
        expect(await activeIds(uid)).toEqual([tokens[3]!.tokenId, fifth.tokenId].sort());
        expect((await allArchived(uid)).every((a) => a.reason === ArchiveReason.EVICTED)).toBe(true);
        expect(await allArchived(uid)).toHaveLength(3);
      });

      test('a token issued by a clock that is behind is still stamped strictly newest (below the cap)', async () => {
        const uid = await newUser();
        const first = await issue(uid, at(10));
        const late = await issue(uid, at(-60));
        expect(late.createTime.getTime()).toBe(first.createTime.getTime() + 1);
        const stamped = await store.getToken(uid, { tokenId: late.tokenId }, soon());
        expect([stamped.createTime, stamped.updateTime]).toEqual([late.createTime, late.createTime]);
      });

      test('tokens issued in the same millisecond get strictly increasing create times', async () => {
        const uid = await newUser();
        const times = [];
        for (let i = 0; i < 5; i++) times.push((await issue(uid, at(0))).createTime.getTime());
        expect(times).toEqual([0, 1, 2, 3, 4].map((i) => T0 + i));
      });

      test('at the cap, the token evicted is the oldest, never the one just issued, whatever the clock says', async () => {
        const uid = await newUser();
        const oldest = await issue(uid, at(0), { max: 2 });
        const second = await issue(uid, at(1), { max: 2 });
        const behind = await issue(uid, at(-3600), { max: 2 });
        expect(behind.evictedTokenIds).toEqual([oldest.tokenId]);
        expect(await activeIds(uid)).toEqual([second.tokenId, behind.tokenId].sort());
        expect(behind.createTime.getTime()).toBe(second.createTime.getTime() + 1);
      });

      test('replacing a device_id archives every active token of that device as REPLACED, and only those', async () => {
        const uid = await newUser();
        const phone1 = await issue(uid, at(1), { device: { deviceId: 'phone' } });
        const tablet = await issue(uid, at(2), { device: { deviceId: 'tablet' } });
        const phone2 = await issue(uid, at(3), { device: { deviceId: 'phone' } });
        const relogin = await issue(uid, at(4), { device: { deviceId: 'phone' }, replace: 'phone' });
        expect(relogin).toMatchObject({ createTime: at(4), evictedTokenIds: [], replacedTokenIds: [phone1.tokenId, phone2.tokenId] });
        expect(await activeIds(uid)).toEqual([tablet.tokenId, relogin.tokenId].sort());
        expect((await allArchived(uid)).sort((a, b) => byNewest(a.authToken, b.authToken))).toEqual(
          [phone2, phone1].map((t) => ({ authToken: publicView(t.stored), archiveTime: at(4), reason: ArchiveReason.REPLACED })),
        );
      });

      test('a replaced token does not count against the cap; with none to replace, the oldest is evicted', async () => {
        const uid = await newUser();
        const phone = await issue(uid, at(1), { max: 2, device: { deviceId: 'phone' } });
        const tablet = await issue(uid, at(2), { max: 2, device: { deviceId: 'tablet' } });
        const relogin = await issue(uid, at(3), { max: 2, device: { deviceId: 'phone' }, replace: 'phone' });
        expect(relogin).toMatchObject({ evictedTokenIds: [], replacedTokenIds: [phone.tokenId] });
        const laptop = await issue(uid, at(4), { max: 2, device: { deviceId: 'laptop' }, replace: 'laptop' });
        expect(laptop).toMatchObject({ evictedTokenIds: [tablet.tokenId], replacedTokenIds: [] });
        expect(await activeIds(uid)).toEqual([relogin.tokenId, laptop.tokenId].sort());
        expect(reasons(await allArchived(uid))).toEqual([
          [tablet.tokenId, ArchiveReason.EVICTED],
          [phone.tokenId, ArchiveReason.REPLACED],
        ]);
      });

      test('a replacing token is stamped newer than the tokens it keeps, not the ones it replaces', async () => {
        const uid = await newUser();
        const kept = await issue(uid, at(1), { device: { deviceId: 'tablet' } });
        await issue(uid, at(10), { device: { deviceId: 'phone' } });
        const relogin = await issue(uid, at(0), { device: { deviceId: 'phone' }, replace: 'phone' });
        expect(relogin.createTime.getTime()).toBe(kept.createTime.getTime() + 1);
      });
    });

    describe('listing', () => {
      test('listTokens sorted by the domain order is newest first, in issue order even within one millisecond', async () => {
        const uid = await newUser();
        const issued = [];
        for (const seconds of [1, 2, 2, 2, 3]) issued.push(await issue(uid, at(seconds)));
        const listed = (await store.listTokens(uid, soon())).sort(byNewest);
        expect(listed.map((t) => t.tokenId)).toEqual(issued.map((t) => t.tokenId).reverse());
        expect(listed.map((t) => t.createTime)).toEqual(issued.map((t) => t.createTime).reverse());
      });

      test('listTokens and getToken never return the hash', async () => {
        const uid = await newUser();
        const { tokenId, stored } = await issue(uid, at(1));
        expect(await store.listTokens(uid, soon())).toEqual([publicView(stored)]);
        expect(await store.getToken(uid, { tokenHash: stored.tokenHash }, soon())).toEqual(publicView(stored));
        expect(await store.getToken(uid, { tokenId }, soon())).not.toHaveProperty('tokenHash');
      });

      test('the archive lists most recently archived first (then by token id), strictly after the cursor, at most `limit`', async () => {
        const uid = await newUser();
        const other = await newUser();
        const tokens = [];
        for (let i = 1; i <= 5; i++) tokens.push(await issue(uid, at(i)));
        await issue(other, at(1));
        await store.deleteToken(uid, { tokenId: tokens[0]!.tokenId }, at(10), soon());
        await store.deleteToken(uid, { tokenId: tokens[1]!.tokenId }, at(20), soon());
        // Three archived in the same millisecond: the token id decides their order.
        expect(await store.flushTokens(uid, at(30), soon())).toBe(3);
        await store.flushTokens(other, at(40), soon());

        const all = await allArchived(uid);
        const expected = [
          ...tokens.slice(2).map((t) => t.tokenId).sort().reverse(),
          tokens[1]!.tokenId,
          tokens[0]!.tokenId,
        ];
        expect(all.map((a) => a.authToken.tokenId)).toEqual(expected);
        expect(all.map((a) => a.archiveTime)).toEqual([at(30), at(30), at(30), at(20), at(10)]);

        const paged: string[] = [];
        let page = await store.listArchivedTokens(uid, undefined, 2, soon());
        while (page.length > 0) {
          expect(page.length).toBeLessThanOrEqual(2);
          paged.push(...page.map((a) => a.authToken.tokenId));
          const last = page.at(-1)!;
          page = await store.listArchivedTokens(uid, { time: last.archiveTime, id: last.authToken.tokenId }, 2, soon());
        }
        expect(paged).toEqual(expected);
        // A cursor between two archive times.
        const after = await store.listArchivedTokens(uid, { time: at(25), id: '' }, 10, soon());
        expect(after.map((a) => a.authToken.tokenId)).toEqual(expected.slice(3));
      });
    });

    describe('changing tokens', () => {
      test('updateToken changes only the given fields and the update time', async () => {
        const uid = await newUser();
        const device = { platform: 'ios', deviceId: 'phone', userAgent: 'App/1', appInfo: { v: 1 } };
        const { tokenId, stored } = await issue(uid, at(1), { device });
        const before = await store.getToken(uid, { tokenId }, soon());

        const updated = await store.updateToken(uid, { tokenId }, { platform: 'android' }, at(5), soon());
        expect(updated).toEqual({ ...publicView(stored), platform: 'android', updateTime: at(5) });
        expect(await store.getToken(uid, { tokenId }, soon())).toEqual(updated);
        expect(before.platform).toBe('ios');

        // A field present but undefined is not given (app_info aside: see the next case).
        const byHash = await store.updateToken(uid, { tokenHash: stored.tokenHash }, { platform: undefined, userAgent: 'App/2', deviceId: 'pixel' }, at(6), soon());
        expect(byHash).toEqual({ ...updated, userAgent: 'App/2', deviceId: 'pixel', updateTime: at(6) });
      });

      test('updateToken with app_info given as undefined clears it; with no changes touches only the update time', async () => {
        const uid = await newUser();
        const { tokenId, stored } = await issue(uid, at(1), { device: { platform: 'ios', appInfo: { v: 1 } } });
        const cleared = await store.updateToken(uid, { tokenId }, { appInfo: undefined }, at(5), soon());
        expect(cleared).toEqual({ ...publicView(stored), appInfo: undefined, updateTime: at(5) });
        const untouched = await store.updateToken(uid, { tokenId }, {}, at(6), soon());
        expect(untouched).toEqual({ ...cleared, updateTime: at(6) });
      });

      test('deleteToken archives the token as DELETED and returns what it archived', async () => {
        const uid = await newUser();
        const keep = await issue(uid, at(1));
        const { tokenId, stored } = await issue(uid, at(2), { device: { platform: 'web', appInfo: { a: [1, 'b'] } } });
        const archived = await store.deleteToken(uid, { tokenHash: stored.tokenHash }, at(7), soon());
        expect(archived).toEqual({ authToken: publicView(stored), archiveTime: at(7), reason: ArchiveReason.DELETED });
        expect(await allArchived(uid)).toEqual([archived]);
        expect(await activeIds(uid)).toEqual([keep.tokenId]);
        expect(await reasonOf(store.getToken(uid, { tokenId }, soon()))).toBe(ErrorReason.AUTH_TOKEN_NOT_FOUND);
        expect(await reasonOf(store.deleteToken(uid, { tokenId }, at(8), soon()))).toBe(ErrorReason.AUTH_TOKEN_NOT_FOUND);
        expect(await store.findActiveToken(uid, stored.tokenHash, soon())).toBeUndefined();
      });

      test('flushTokens archives every active token as FLUSHED and returns exactly how many', async () => {
        const uid = await newUser();
        const issued = [await issue(uid, at(1)), await issue(uid, at(2)), await issue(uid, at(3))];
        expect(await store.flushTokens(uid, at(9), soon())).toBe(3);
        expect(await store.listTokens(uid, soon())).toEqual([]);
        const archived = await allArchived(uid);
        expect(archived.map((a) => a.authToken.tokenId).sort()).toEqual(issued.map((t) => t.tokenId).sort());
        expect(new Set(archived.map((a) => `${a.reason}@${a.archiveTime.toISOString()}`))).toEqual(new Set([`FLUSHED@${at(9).toISOString()}`]));
        expect(await store.flushTokens(uid, at(10), soon())).toBe(0);
        expect(await allArchived(uid)).toHaveLength(3);
      });
    });

    describe('validation', () => {
      test('findActiveToken finds the user and the stored token by hash, and nothing for another hash', async () => {
        const uid = await newUser();
        const { secret, stored } = await issue(uid, at(1), { device: { platform: 'ios' } });
        const other = await issue(await newUser(), at(1));
        const found = await store.findActiveToken(uid, hashToken(secret), soon());
        expect(found).toEqual({ user: userRecord(uid), token: stored });
        expect(await store.findActiveToken(uid, other.stored.tokenHash, soon())).toBeUndefined();
        expect(await store.findActiveToken(uid, hashToken(`${secret}x`), soon())).toBeUndefined();
      });

      test('recordTokenUse writes last use and the changes once, then not again until after `usedAfter`', async () => {
        const uid = await newUser();
        const { tokenId, stored } = await issue(uid, at(1), { device: { platform: 'ios', userAgent: 'App/1' } });
        const read = async () => (await store.findActiveToken(uid, stored.tokenHash, soon()))!.token;

        // Never used: written, whatever `usedAfter` says. The update time is the caller's, not this.
        expect(await store.recordTokenUse(uid, tokenId, { userAgent: 'App/2', deviceId: 'phone' }, at(100), at(40), soon())).toBe(true);
        expect(await read()).toEqual({ ...stored, userAgent: 'App/2', deviceId: 'phone', lastUsedTime: at(100) });

        // Used after `usedAfter` (another validation wrote): no write.
        expect(await store.recordTokenUse(uid, tokenId, { userAgent: 'App/3' }, at(130), at(70), soon())).toBe(false);
        expect((await read()).userAgent).toBe('App/2');

        // Used exactly at `usedAfter`: written again.
        expect(await store.recordTokenUse(uid, tokenId, { appInfo: { v: 2 } }, at(160), at(100), soon())).toBe(true);
        expect(await read()).toEqual({ ...stored, userAgent: 'App/2', deviceId: 'phone', appInfo: { v: 2 }, lastUsedTime: at(160) });

        expect(await store.recordTokenUse(uid, 'tid_0000000000000000000000', {}, at(300), at(240), soon())).toBe(false);
      });
    });

    describe('a call that is over', () => {
      const ref = { tokenId: 'tid_0000000000000000000000' };
      /** Every method, with the deadline `d`, on an existing user with one token. */
      const calls: [string, (s: TokenStore, uid: string, d: Deadline) => Promise<unknown>][] = [
        ['createUser', (s, uid, d) => s.createUser({ uid, name: uid, metadata: undefined, createTime: at(0), updateTime: at(0) }, undefined, d)],
        ['getUser', (s, uid, d) => s.getUser(uid, d)],
        ['deleteUser', (s, uid, d) => s.deleteUser(uid, at(1), d)],
        ['issueToken', (s, uid, d) => s.issueToken(newToken(uid, NO_DEVICE, at(1)).stored, { replaceDeviceId: undefined, maxTokensPerUser: 100 }, at(1), d)],
        ['listTokens', (s, uid, d) => s.listTokens(uid, d)],
        ['getToken', (s, uid, d) => s.getToken(uid, ref, d)],
        ['updateToken', (s, uid, d) => s.updateToken(uid, ref, { platform: 'ios' }, at(1), d)],
        ['deleteToken', (s, uid, d) => s.deleteToken(uid, ref, at(1), d)],
        ['flushTokens', (s, uid, d) => s.flushTokens(uid, at(1), d)],
        ['findActiveToken', (s, uid, d) => s.findActiveToken(uid, hashToken('x'), d)],
        ['recordTokenUse', (s, uid, d) => s.recordTokenUse(uid, ref.tokenId, {}, at(1), at(0), d)],
        ['listArchivedTokens', (s, uid, d) => s.listArchivedTokens(uid, undefined, 10, d)],
      ];
      test.each(calls)('%s fails with DEADLINE_EXCEEDED once the deadline has passed, and changes nothing', async (_, call) => {
        const uid = await newUser();
        await issue(uid, at(0));
        expect(await reasonOf(call(store, uid, callDeadline(Date.now() - 1_000)))).toBe(ErrorReason.DEADLINE_EXCEEDED);
        expect(await store.listTokens(uid, soon())).toHaveLength(1);
      });
      test.each(calls)('%s fails with the reason of a call its client cancelled, and changes nothing', async (_, call) => {
        const uid = await newUser();
        await issue(uid, at(0));
        const cancelled = new AbortController();
        cancelled.abort(callCancelled());
        expect(await reasonOf(call(store, uid, callDeadline(Infinity, cancelled.signal)))).toBe(ErrorReason.CANCELLED);
        expect(await store.listTokens(uid, soon())).toHaveLength(1);
      });
    });
  });
}

describeTokenStoreContract('InMemoryTokenStore', async () => ({ store: new InMemoryTokenStore(), close: async () => undefined }));

describeTokenStoreContract('MongoTokenStore', async () => {
  const dbName = `test_contract_${randomUUID().slice(0, 8)}`;
  // The store itself, as openDatabase builds it; the validation cache in front of it has tests of its own.
  const database = openDatabase({ uri: inject('mongoUri'), dbName, archiveRetentionDays: 90, validationCacheEntries: 0, log: createLogger('silent') });
  await database.prepare();
  return {
    store: database.store,
    async close() {
      await database.client.db(dbName).dropDatabase();
      await database.close();
    },
  };
});
