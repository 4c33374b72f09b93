// The idle timeout (IDLE_TIMEOUT_SECONDS), on stores built with one of IDLE_S seconds: a token
// expires that long after its last use, or its issue if never used; the sweep is told to visit
// its user then, and archives exactly the idle tokens as EXPIRED.
import { expect, test } from 'vitest';
import { type ContractContext, at, soon } from './context';

export const IDLE_S = 1_000;

/** describe('the idle timeout') */
export function idleCases(ctx: ContractContext): void {
  test('a token unused for the idle timeout is archived EXPIRED; one used since is kept until the timeout after its use', async () => {
    const uid = await ctx.newUser();
    const idle = await ctx.issue(uid, at(1));
    const used = await ctx.issue(uid, at(2));
    expect(await ctx.store.recordTokenUse(uid, used.tokenId, {}, at(500), at(440), soon())).toBe(true);
    expect(await ctx.store.expireTokens(uid, at(IDLE_S), soon())).toBe(0);
    expect(await ctx.store.expireTokens(uid, at(1 + IDLE_S), soon())).toBe(1);
    expect(await ctx.activeIds(uid)).toEqual([used.tokenId]);
    expect((await ctx.allArchived(uid)).map((a) => [a.authToken.tokenId, a.reason])).toEqual([[idle.tokenId, 'EXPIRED']]);
    expect(await ctx.store.expireTokens(uid, at(499 + IDLE_S), soon())).toBe(0);
    expect(await ctx.store.expireTokens(uid, at(500 + IDLE_S), soon())).toBe(1);
    expect(await ctx.activeIds(uid)).toEqual([]);
  });

  test('usersWithExpiredTokens names a user when its first token goes idle, and after a visit, when the next one does', async () => {
    const uid = await ctx.newUser();
    const token = await ctx.issue(uid, at(10));
    const named = async (now: number) => (await ctx.store.usersWithExpiredTokens(at(now), 10_000, soon())).includes(uid);
    expect(await named(9 + IDLE_S)).toBe(false);
    // Used meanwhile: a visit at the issue's timeout (MongoDB names the user then: its schedule is
    // kept early, not exact) archives nothing, and the user is named next at the new time.
    await ctx.store.recordTokenUse(uid, token.tokenId, {}, at(600), at(540), soon());
    expect(await ctx.store.expireTokens(uid, at(10 + IDLE_S), soon())).toBe(0);
    expect(await named(599 + IDLE_S)).toBe(false);
    expect(await named(600 + IDLE_S)).toBe(true);
  });
}
