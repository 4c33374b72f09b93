// Validation's two store calls: finding an active token by its hash, and recording its last use at
// most once per interval.
import { expect, test } from 'vitest';
import { hashToken } from '../../../src/domain/token-format';
import { type ContractContext, UNKNOWN_TOKEN_ID, at, soon, userRecord } from './context';

/** describe('validation') */
export function lastUseCases(ctx: ContractContext): void {
  test('findActiveToken finds the user and the stored token by hash, and nothing for another hash', async () => {
    const uid = await ctx.newUser();
    const { secret, stored } = await ctx.issue(uid, at(1), { device: { platform: 'ios' } });
    const other = await ctx.issue(await ctx.newUser(), at(1));
    const found = await ctx.store.findActiveToken(uid, hashToken(secret), soon());
    expect(found).toEqual({ user: userRecord(uid), token: stored });
    expect(await ctx.store.findActiveToken(uid, other.stored.tokenHash, soon())).toBeUndefined();
    expect(await ctx.store.findActiveToken(uid, hashToken(`${secret}x`), soon())).toBeUndefined();
  });

  test('recordTokenUse writes last use and the changes once, then not again until after `usedAfter`', async () => {
    const uid = await ctx.newUser();
    const { tokenId, stored } = await ctx.issue(uid, at(1), { device: { platform: 'ios', userAgent: 'App/1' } });
    const read = async () => (await ctx.store.findActiveToken(uid, stored.tokenHash, soon()))!.token;

    // Never used: written, whatever `usedAfter` says. The update time is the caller's, not this.
    expect(await ctx.store.recordTokenUse(uid, tokenId, { userAgent: 'App/2', deviceId: 'phone' }, at(100), at(40), soon())).toBe(true);
    expect(await read()).toEqual({ ...stored, userAgent: 'App/2', deviceId: 'phone', lastUsedTime: at(100) });

    // Used after `usedAfter` (another validation wrote): no write.
    expect(await ctx.store.recordTokenUse(uid, tokenId, { userAgent: 'App/3' }, at(130), at(70), soon())).toBe(false);
    expect((await read()).userAgent).toBe('App/2');

    // Used exactly at `usedAfter`: written again.
    expect(await ctx.store.recordTokenUse(uid, tokenId, { appInfo: { v: 2 } }, at(160), at(100), soon())).toBe(true);
    expect(await read()).toEqual({ ...stored, userAgent: 'App/2', deviceId: 'phone', appInfo: { v: 2 }, lastUsedTime: at(160) });

    expect(await ctx.store.recordTokenUse(uid, UNKNOWN_TOKEN_ID, {}, at(300), at(240), soon())).toBe(false);
  });
}
