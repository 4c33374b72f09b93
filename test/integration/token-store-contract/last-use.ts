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

  test('recordTokenUse writes last use with the changes; used after `usedAfter`, only a value that differs is written', async () => {
    const uid = await ctx.newUser();
    const { tokenId, stored } = await ctx.issue(uid, at(1), { device: { platform: 'ios', userAgent: 'App/1' } });
    const read = async () => (await ctx.store.findActiveToken(uid, stored.tokenHash, soon()))!.token;

    // Never used: written, whatever `usedAfter` says. The update time is the caller's, not this.
    expect(await ctx.store.recordTokenUse(uid, tokenId, { userAgent: 'App/2', deviceId: 'phone' }, at(100), at(40), soon())).toBe(true);
    expect(await read()).toEqual({ ...stored, userAgent: 'App/2', deviceId: 'phone', lastUsedTime: at(100) });

    // Used after `usedAfter` (another validation wrote) and nothing differs: no write.
    expect(await ctx.store.recordTokenUse(uid, tokenId, { userAgent: 'App/2' }, at(130), at(70), soon())).toBe(false);
    expect(await ctx.store.recordTokenUse(uid, tokenId, {}, at(130), at(70), soon())).toBe(false);
    expect((await read()).lastUsedTime).toEqual(at(100));

    // Used after `usedAfter`, but a value differs: written at once, with the new last use.
    expect(await ctx.store.recordTokenUse(uid, tokenId, { userAgent: 'App/3' }, at(140), at(80), soon())).toBe(true);
    expect(await read()).toEqual({ ...stored, userAgent: 'App/3', deviceId: 'phone', lastUsedTime: at(140) });

    // Used exactly at `usedAfter`: written again, even with nothing new.
    expect(await ctx.store.recordTokenUse(uid, tokenId, { appInfo: { v: 2 } }, at(200), at(140), soon())).toBe(true);
    expect(await read()).toEqual({ ...stored, userAgent: 'App/3', deviceId: 'phone', appInfo: { v: 2 }, lastUsedTime: at(200) });

    // A device_id never rebinds a bound token: nothing at all is written then.
    expect(await ctx.store.recordTokenUse(uid, tokenId, { deviceId: 'tablet', userAgent: 'App/4' }, at(300), at(240), soon())).toBe(false);
    expect(await read()).toEqual({ ...stored, userAgent: 'App/3', deviceId: 'phone', appInfo: { v: 2 }, lastUsedTime: at(200) });

    expect(await ctx.store.recordTokenUse(uid, UNKNOWN_TOKEN_ID, {}, at(300), at(240), soon())).toBe(false);
  });
}
