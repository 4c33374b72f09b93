// Users: creating one (with or without its first token), reading it back, deleting it; and what
// every method does for a uid no user has.
import { expect, test } from 'vitest';
import { NO_DEVICE, newToken, publicView } from '../../../src/domain/auth-tokens';
import { ErrorReason } from '../../../src/domain/errors';
import { ArchiveReason } from '../../../src/domain/model';
import { hashToken } from '../../../src/domain/token-format';
import type { TokenStore } from '../../../src/domain/token-store';
import { type ContractContext, UNKNOWN_TOKEN_ID, at, byNewest, freshUid, reasonOf, soon, userRecord } from './context';

/** describe('users') */
export function userCases(ctx: ContractContext): void {
  test('a created user reads back as given; an unknown one is undefined', async () => {
    const uid = freshUid();
    await ctx.store.createUser(userRecord(uid, at(5)), undefined, soon());
    expect(await ctx.store.getUser(uid, soon())).toEqual(userRecord(uid, at(5)));
    expect(await ctx.store.listTokens(uid, soon())).toEqual([]);
    expect(await ctx.store.getUser(freshUid(), soon())).toBeUndefined();
  });

  test('a user created with its first token has exactly that token, findable by its hash', async () => {
    const uid = freshUid();
    const { secret, stored } = newToken(uid, NO_DEVICE, at(0));
    await ctx.store.createUser(userRecord(uid), stored, soon());
    expect(await ctx.store.listTokens(uid, soon())).toEqual([publicView(stored)]);
    const found = await ctx.store.findActiveToken(uid, hashToken(secret), soon());
    expect(found?.user).toEqual(userRecord(uid));
    expect(found?.token).toEqual(stored);
  });

  test('a second user with the same uid fails with UID_ALREADY_EXISTS and changes nothing', async () => {
    const uid = await ctx.newUser();
    const again = { ...userRecord(uid, at(9)), name: 'someone else' };
    expect(await reasonOf(ctx.store.createUser(again, newToken(uid, NO_DEVICE, at(9)).stored, soon()))).toBe(ErrorReason.UID_ALREADY_EXISTS);
    expect(await ctx.store.getUser(uid, soon())).toEqual(userRecord(uid));
    expect(await ctx.store.listTokens(uid, soon())).toEqual([]);
  });

  test('deleting a user archives each active token as USER_DELETED and returns how many', async () => {
    const uid = await ctx.newUser();
    const a = await ctx.issue(uid, at(1));
    const b = await ctx.issue(uid, at(2));
    expect(await ctx.store.deleteUser(uid, at(10), soon())).toBe(2);
    expect(await ctx.store.getUser(uid, soon())).toBeUndefined();
    const archived = await ctx.allArchived(uid);
    expect(archived.map((x) => x.reason)).toEqual([ArchiveReason.USER_DELETED, ArchiveReason.USER_DELETED]);
    expect(archived.map((x) => x.archiveTime)).toEqual([at(10), at(10)]);
    expect(archived.map((x) => x.authToken).sort(byNewest)).toEqual([publicView(b.stored), publicView(a.stored)]);
    // The uid is free again, and the new user starts with no tokens and an empty archive; the
    // earlier user's archive stays, listed with 'all'.
    await ctx.newUser(uid);
    expect(await ctx.store.listTokens(uid, soon())).toEqual([]);
    expect(await ctx.allArchived(uid)).toEqual([]);
    expect(await ctx.store.listArchivedTokens(uid, undefined, 10, 'all', soon())).toHaveLength(2);
  });

  test('deleting a user without tokens returns 0 and archives nothing', async () => {
    const uid = await ctx.newUser();
    expect(await ctx.store.deleteUser(uid, at(10), soon())).toBe(0);
    expect(await ctx.allArchived(uid)).toEqual([]);
  });
}

const ref = { tokenId: UNKNOWN_TOKEN_ID };
/** The methods that fail for a uid no user has. */
const failingForUnknownUser: [string, (s: TokenStore, uid: string) => Promise<unknown>][] = [
  ['deleteUser', (s, uid) => s.deleteUser(uid, at(1), soon())],
  ['issueToken', (s, uid) => s.issueToken(newToken(uid, NO_DEVICE, at(1)).stored, { replaceDeviceId: undefined, maxTokensPerUser: 100 }, at(1), soon())],
  ['issueToken replacing a device', (s, uid) => s.issueToken(newToken(uid, NO_DEVICE, at(1)).stored, { replaceDeviceId: 'phone', maxTokensPerUser: 100 }, at(1), soon())],
  ['listTokens', (s, uid) => s.listTokens(uid, soon())],
  ['getToken by id', (s, uid) => s.getToken(uid, ref, soon())],
  ['getToken by hash', (s, uid) => s.getToken(uid, { tokenHash: hashToken('x') }, soon())],
  ['updateToken', (s, uid) => s.updateToken(uid, ref, { platform: 'ios' }, at(1), soon())],
  ['deleteToken', (s, uid) => s.deleteToken(uid, ref, at(1), soon())],
  ['flushTokens', (s, uid) => s.flushTokens(uid, {}, at(1), soon())],
];

/** describe('an unknown user') */
export function unknownUserCases(ctx: ContractContext): void {
  test.each(failingForUnknownUser)('%s fails with UID_NOT_FOUND', async (_, call) => {
    expect(await reasonOf(call(ctx.store, freshUid()))).toBe(ErrorReason.UID_NOT_FOUND);
  });

  test('is no error for the validation calls and the archive: nothing found, nothing written', async () => {
    const uid = freshUid();
    expect(await ctx.store.getUser(uid, soon())).toBeUndefined();
    expect(await ctx.store.findActiveToken(uid, hashToken('x'), soon())).toBeUndefined();
    expect(await ctx.store.recordTokenUse(uid, ref.tokenId, {}, at(1), at(0), soon())).toBe(false);
    expect(await ctx.store.listArchivedTokens(uid, undefined, 10, 'current', soon())).toEqual([]);
  });
}
