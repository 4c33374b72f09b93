// Expired tokens: which users the sweep is told to visit, and what expiring a user's tokens
// archives (EXPIRED, exactly those whose expire_time has come) and keeps.
import { expect, test } from 'vitest';
import { type ContractContext, at, soon } from './context';

/** describe('expiry') */
export function expiryCases(ctx: ContractContext): void {
  test('expireTokens archives the tokens expired by `now` as EXPIRED, returns how many, and keeps the rest', async () => {
    const uid = await ctx.newUser();
    const due = await ctx.issue(uid, at(1), { expireTime: at(10) });
    const later = await ctx.issue(uid, at(2), { expireTime: at(20) });
    const never = await ctx.issue(uid, at(3));
    expect(await ctx.store.expireTokens(uid, at(9), soon())).toBe(0);
    expect(await ctx.store.expireTokens(uid, at(10), soon())).toBe(1);
    expect(await ctx.activeIds(uid)).toEqual([later.tokenId, never.tokenId].sort());
    const archived = await ctx.allArchived(uid);
    expect(archived.map((a) => [a.authToken.tokenId, a.reason, a.archiveTime.toISOString(), a.authToken.expireTime?.toISOString()])).toEqual([
      [due.tokenId, 'EXPIRED', at(10).toISOString(), at(10).toISOString()],
    ]);
    expect(await ctx.store.expireTokens(uid, at(10), soon())).toBe(0);
    expect(await ctx.store.expireTokens('nobody-here', at(10), soon())).toBe(0);
  });

  test('usersWithExpiredTokens names the users with a token due, not those whose tokens expire later or never', async () => {
    const [due, later, never] = [await ctx.newUser(), await ctx.newUser(), await ctx.newUser()];
    await ctx.issue(due, at(1), { expireTime: at(50) });
    await ctx.issue(due, at(2), { expireTime: at(90) });
    await ctx.issue(later, at(1), { expireTime: at(80) });
    await ctx.issue(never, at(1));
    const named = async (now: number) => {
      const uids = await ctx.store.usersWithExpiredTokens(at(now), 10_000, soon());
      return [due, later, never].map((uid) => uids.includes(uid));
    };
    expect(await named(49)).toEqual([false, false, false]);
    expect(await named(50)).toEqual([true, false, false]);
    // Once its expired token is archived, the user is named again only when the next one is due.
    await ctx.store.expireTokens(due, at(50), soon());
    expect(await named(79)).toEqual([false, false, false]);
    expect(await named(80)).toEqual([false, true, false]);
    expect(await named(90)).toEqual([true, true, false]);
  });

  test('listed and read tokens show their expire_time', async () => {
    const uid = await ctx.newUser();
    const token = await ctx.issue(uid, at(1), { expireTime: at(30) });
    expect((await ctx.store.listTokens(uid, soon()))[0]!.expireTime).toEqual(at(30));
    expect((await ctx.store.getToken(uid, { tokenId: token.tokenId }, soon())).expireTime).toEqual(at(30));
    expect((await ctx.store.findActiveToken(uid, token.stored.tokenHash, soon()))!.token.expireTime).toEqual(at(30));
  });
}
