// Logging out precisely: a flush that keeps one token (every other device logged out) or revokes
// one device's tokens only, or both at once; what it archives, and what it counts.
import { expect, test } from 'vitest';
import { ErrorReason } from '../../../src/domain/errors';
import { type ContractContext, UNKNOWN_TOKEN_ID, at, reasonOf, soon } from './context';

/** describe('flushing some tokens'): three devices, two tokens on "phone". */
export function flushScopeCases(ctx: ContractContext): void {
  async function userWithDevices() {
    const uid = await ctx.newUser();
    const phoneOld = await ctx.issue(uid, at(1), { device: { deviceId: 'phone' } });
    const phoneNew = await ctx.issue(uid, at(2), { device: { deviceId: 'phone' } });
    const laptop = await ctx.issue(uid, at(3), { device: { deviceId: 'laptop' } });
    const anywhere = await ctx.issue(uid, at(4));
    return { uid, phoneOld, phoneNew, laptop, anywhere };
  }
  const archivedAs = async (uid: string) =>
    (await ctx.allArchived(uid)).map((a) => [a.authToken.tokenId, a.reason, a.archiveTime.toISOString()]).sort();

  test('except a token (by secret or token_id): every other token is archived as FLUSHED, that one stays active', async () => {
    for (const bySecret of [true, false]) {
      const { uid, phoneOld, phoneNew, laptop, anywhere } = await userWithDevices();
      const except = bySecret ? { tokenHash: laptop.stored.tokenHash } : { tokenId: laptop.tokenId };
      expect(await ctx.store.flushTokens(uid, { except }, at(9), soon())).toBe(3);
      expect(await ctx.activeIds(uid)).toEqual([laptop.tokenId]);
      const when = at(9).toISOString();
      expect(await archivedAs(uid)).toEqual([phoneOld, phoneNew, anywhere].map((t) => [t.tokenId, 'FLUSHED', when]).sort());
    }
  });

  test('one device: only its tokens are archived, the count is exact', async () => {
    const { uid, phoneOld, phoneNew, laptop, anywhere } = await userWithDevices();
    expect(await ctx.store.flushTokens(uid, { deviceId: 'phone' }, at(9), soon())).toBe(2);
    expect(await ctx.activeIds(uid)).toEqual([laptop.tokenId, anywhere.tokenId].sort());
    expect((await archivedAs(uid)).map(([id]) => id)).toEqual([phoneOld.tokenId, phoneNew.tokenId].sort());
    // A device with no tokens (any more): nothing to do, not an error.
    expect(await ctx.store.flushTokens(uid, { deviceId: 'phone' }, at(10), soon())).toBe(0);
    expect(await ctx.store.flushTokens(uid, { deviceId: 'tablet' }, at(10), soon())).toBe(0);
    expect(await ctx.activeIds(uid)).toEqual([laptop.tokenId, anywhere.tokenId].sort());
  });

  test('one device except one of its tokens: the device\'s other tokens only', async () => {
    const { uid, phoneOld, phoneNew, laptop, anywhere } = await userWithDevices();
    expect(await ctx.store.flushTokens(uid, { deviceId: 'phone', except: { tokenId: phoneNew.tokenId } }, at(9), soon())).toBe(1);
    expect(await ctx.activeIds(uid)).toEqual([phoneNew.tokenId, laptop.tokenId, anywhere.tokenId].sort());
    expect((await archivedAs(uid)).map(([id]) => id)).toEqual([phoneOld.tokenId]);
  });

  test('except a token the user does not have active: ERR_AUTH_TOKEN_NOT_FOUND, and nothing is revoked', async () => {
    const { uid } = await userWithDevices();
    const other = await ctx.newUser();
    const othersToken = await ctx.issue(other, at(5));
    const before = await ctx.activeIds(uid);
    for (const except of [{ tokenId: UNKNOWN_TOKEN_ID }, { tokenId: othersToken.tokenId }, { tokenHash: othersToken.stored.tokenHash }]) {
      expect(await reasonOf(ctx.store.flushTokens(uid, { except }, at(9), soon()))).toBe(ErrorReason.AUTH_TOKEN_NOT_FOUND);
    }
    expect(await ctx.activeIds(uid)).toEqual(before);
    expect(await ctx.allArchived(uid)).toEqual([]);
    expect(await ctx.activeIds(other)).toEqual([othersToken.tokenId]);
  });

  test('an unknown user: ERR_UID_NOT_FOUND, with or without a scope', async () => {
    for (const scope of [{}, { deviceId: 'phone' }, { except: { tokenId: UNKNOWN_TOKEN_ID } }]) {
      expect(await reasonOf(ctx.store.flushTokens('nobody-here', scope, at(9), soon()))).toBe(ErrorReason.UID_NOT_FOUND);
    }
  });
}
