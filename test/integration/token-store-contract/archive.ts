// The archive's listing: most recently archived first, then by token id, paged by a cursor.
import { expect, test } from 'vitest';
import { type ContractContext, at, soon } from './context';

/** describe('listing'), the archive (the active tokens' listing is in ./tokens). */
export function archiveListingCases(ctx: ContractContext): void {
  test('the archive lists most recently archived first (then by token id), strictly after the cursor, at most `limit`', async () => {
    const uid = await ctx.newUser();
    const other = await ctx.newUser();
    const tokens = [];
    for (let i = 1; i <= 5; i++) tokens.push(await ctx.issue(uid, at(i)));
    await ctx.issue(other, at(1));
    await ctx.store.deleteToken(uid, { tokenId: tokens[0]!.tokenId }, at(10), soon());
    await ctx.store.deleteToken(uid, { tokenId: tokens[1]!.tokenId }, at(20), soon());
    // Three archived in the same millisecond: the token id decides their order.
    expect(await ctx.store.flushTokens(uid, {}, at(30), soon())).toBe(3);
    await ctx.store.flushTokens(other, {}, at(40), soon());

    const all = await ctx.allArchived(uid);
    const expected = [
      ...tokens.slice(2).map((t) => t.tokenId).sort().reverse(),
      tokens[1]!.tokenId,
      tokens[0]!.tokenId,
    ];
    expect(all.map((a) => a.authToken.tokenId)).toEqual(expected);
    expect(all.map((a) => a.archiveTime)).toEqual([at(30), at(30), at(30), at(20), at(10)]);

    const paged: string[] = [];
    let page = await ctx.store.listArchivedTokens(uid, undefined, 2, 'current', soon());
    while (page.length > 0) {
      expect(page.length).toBeLessThanOrEqual(2);
      paged.push(...page.map((a) => a.authToken.tokenId));
      const last = page.at(-1)!;
      page = await ctx.store.listArchivedTokens(uid, { time: last.archiveTime, id: last.authToken.tokenId }, 2, 'current', soon());
    }
    expect(paged).toEqual(expected);
    // A cursor between two archive times.
    const after = await ctx.store.listArchivedTokens(uid, { time: at(25), id: '' }, 10, 'current', soon());
    expect(after.map((a) => a.authToken.tokenId)).toEqual(expected.slice(3));
  });

  test('a uid deleted and created again is a new user: its archive starts empty; every user\'s is listed with \'all\'', async () => {
    const uid = await ctx.newUser();
    const first = await ctx.issue(uid, at(1));
    const second = await ctx.issue(uid, at(2));
    await ctx.store.deleteToken(uid, { tokenId: first.tokenId }, at(3), soon());
    expect(await ctx.store.deleteUser(uid, at(4), soon())).toBe(1);
    const earlier = [second.tokenId, first.tokenId];
    const ids = async (users: 'current' | 'all') =>
      (await ctx.store.listArchivedTokens(uid, undefined, 10, users, soon())).map((a) => a.authToken.tokenId);

    // Without a current user, both list every earlier user's archive.
    expect([await ids('current'), await ids('all')]).toEqual([earlier, earlier]);

    await ctx.newUser(uid);
    expect(await ids('current')).toEqual([]);
    expect(await ids('all')).toEqual(earlier);

    const again = await ctx.issue(uid, at(5));
    await ctx.store.flushTokens(uid, {}, at(6), soon());
    expect(await ids('current')).toEqual([again.tokenId]);
    expect(await ids('all')).toEqual([again.tokenId, ...earlier]);
  });
}
