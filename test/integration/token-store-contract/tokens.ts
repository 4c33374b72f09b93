// A user's active tokens: getting and listing them (never with the hash), updating, deleting and
// flushing them, and what each does for a token the user does not have.
import { expect, test } from 'vitest';
import { publicView } from '../../../src/domain/auth-tokens';
import { ErrorReason } from '../../../src/domain/errors';
import { ArchiveReason } from '../../../src/domain/model';
import { type ContractContext, UNKNOWN_TOKEN_ID, at, byNewest, reasonOf, soon } from './context';

/** describe('an unknown token of a known user') */
export function unknownTokenCases(ctx: ContractContext): void {
  test('getToken, updateToken and deleteToken fail with AUTH_TOKEN_NOT_FOUND, by id and by hash, also for another user\'s token', async () => {
    const uid = await ctx.newUser();
    const mine = await ctx.issue(uid, at(1));
    const other = await ctx.issue(await ctx.newUser(), at(1));
    const refs = [{ tokenId: other.tokenId }, { tokenHash: other.stored.tokenHash }, { tokenId: UNKNOWN_TOKEN_ID }];
    for (const ref of refs) {
      expect(await reasonOf(ctx.store.getToken(uid, ref, soon()))).toBe(ErrorReason.AUTH_TOKEN_NOT_FOUND);
      expect(await reasonOf(ctx.store.updateToken(uid, ref, { platform: 'x' }, at(2), soon()))).toBe(ErrorReason.AUTH_TOKEN_NOT_FOUND);
      expect(await reasonOf(ctx.store.deleteToken(uid, ref, at(2), soon()))).toBe(ErrorReason.AUTH_TOKEN_NOT_FOUND);
    }
    expect(await ctx.activeIds(uid)).toEqual([mine.tokenId]);
    expect(await ctx.allArchived(uid)).toEqual([]);
  });
}

/** describe('listing'), the active tokens (the archive's listing is in ./archive). */
export function tokenListingCases(ctx: ContractContext): void {
  test('listTokens sorted by the domain order is newest first, in issue order even within one millisecond', async () => {
    const uid = await ctx.newUser();
    const issued = [];
    for (const seconds of [1, 2, 2, 2, 3]) issued.push(await ctx.issue(uid, at(seconds)));
    const listed = (await ctx.store.listTokens(uid, soon())).sort(byNewest);
    expect(listed.map((t) => t.tokenId)).toEqual(issued.map((t) => t.tokenId).reverse());
    expect(listed.map((t) => t.createTime)).toEqual(issued.map((t) => t.createTime).reverse());
  });

  test('listTokens and getToken never return the hash', async () => {
    const uid = await ctx.newUser();
    const { tokenId, stored } = await ctx.issue(uid, at(1));
    expect(await ctx.store.listTokens(uid, soon())).toEqual([publicView(stored)]);
    expect(await ctx.store.getToken(uid, { tokenHash: stored.tokenHash }, soon())).toEqual(publicView(stored));
    expect(await ctx.store.getToken(uid, { tokenId }, soon())).not.toHaveProperty('tokenHash');
  });
}

/** describe('changing tokens'): update, delete, flush. */
export function tokenChangeCases(ctx: ContractContext): void {
  test('updateToken changes only the given fields and the update time', async () => {
    const uid = await ctx.newUser();
    const device = { platform: 'ios', deviceId: 'phone', userAgent: 'App/1', appInfo: { v: 1 } };
    const { tokenId, stored } = await ctx.issue(uid, at(1), { device });
    const before = await ctx.store.getToken(uid, { tokenId }, soon());

    const updated = await ctx.store.updateToken(uid, { tokenId }, { platform: 'android' }, at(5), soon());
    expect(updated).toEqual({ ...publicView(stored), platform: 'android', updateTime: at(5) });
    expect(await ctx.store.getToken(uid, { tokenId }, soon())).toEqual(updated);
    expect(before.platform).toBe('ios');

    // A field present but undefined is not given (app_info aside: see the next case).
    const byHash = await ctx.store.updateToken(uid, { tokenHash: stored.tokenHash }, { platform: undefined, userAgent: 'App/2', deviceId: 'pixel' }, at(6), soon());
    expect(byHash).toEqual({ ...updated, userAgent: 'App/2', deviceId: 'pixel', updateTime: at(6) });
  });

  test('updateToken with app_info given as undefined clears it; with no changes touches only the update time', async () => {
    const uid = await ctx.newUser();
    const { tokenId, stored } = await ctx.issue(uid, at(1), { device: { platform: 'ios', appInfo: { v: 1 } } });
    const cleared = await ctx.store.updateToken(uid, { tokenId }, { appInfo: undefined }, at(5), soon());
    expect(cleared).toEqual({ ...publicView(stored), appInfo: undefined, updateTime: at(5) });
    const untouched = await ctx.store.updateToken(uid, { tokenId }, {}, at(6), soon());
    expect(untouched).toEqual({ ...cleared, updateTime: at(6) });
  });

  test('deleteToken archives the token as DELETED and returns what it archived', async () => {
    const uid = await ctx.newUser();
    const keep = await ctx.issue(uid, at(1));
    const { tokenId, stored } = await ctx.issue(uid, at(2), { device: { platform: 'web', appInfo: { a: [1, 'b'] } } });
    const archived = await ctx.store.deleteToken(uid, { tokenHash: stored.tokenHash }, at(7), soon());
    expect(archived).toEqual({ authToken: publicView(stored), archiveTime: at(7), reason: ArchiveReason.DELETED });
    expect(await ctx.allArchived(uid)).toEqual([archived]);
    expect(await ctx.activeIds(uid)).toEqual([keep.tokenId]);
    expect(await reasonOf(ctx.store.getToken(uid, { tokenId }, soon()))).toBe(ErrorReason.AUTH_TOKEN_NOT_FOUND);
    expect(await reasonOf(ctx.store.deleteToken(uid, { tokenId }, at(8), soon()))).toBe(ErrorReason.AUTH_TOKEN_NOT_FOUND);
    expect(await ctx.store.findActiveToken(uid, stored.tokenHash, soon())).toBeUndefined();
  });

  test('flushTokens archives every active token as FLUSHED and returns exactly how many', async () => {
    const uid = await ctx.newUser();
    const issued = [await ctx.issue(uid, at(1)), await ctx.issue(uid, at(2)), await ctx.issue(uid, at(3))];
    expect(await ctx.store.flushTokens(uid, {}, at(9), soon())).toBe(3);
    expect(await ctx.store.listTokens(uid, soon())).toEqual([]);
    const archived = await ctx.allArchived(uid);
    expect(archived.map((a) => a.authToken.tokenId).sort()).toEqual(issued.map((t) => t.tokenId).sort());
    expect(new Set(archived.map((a) => `${a.reason}@${a.archiveTime.toISOString()}`))).toEqual(new Set([`FLUSHED@${at(9).toISOString()}`]));
    expect(await ctx.store.flushTokens(uid, {}, at(10), soon())).toBe(0);
    expect(await ctx.allArchived(uid)).toHaveLength(3);
  });
}
