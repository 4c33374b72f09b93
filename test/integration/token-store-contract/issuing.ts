// Issuing tokens: the per-user cap and its evictions, replacing a device's tokens, and create
// times that are strictly newest whatever the caller's clock says.
import { expect, test } from 'vitest';
import { publicView } from '../../../src/domain/auth-tokens';
import { ArchiveReason } from '../../../src/domain/model';
import { type ContractContext, T0, at, byNewest, reasons, soon } from './context';

/** describe('issueToken'): below, at and over the cap. */
export function issuingCases(ctx: ContractContext): void {
  test('below the cap stores the token as requested and archives nothing', async () => {
    const uid = await ctx.newUser();
    const first = await ctx.issue(uid, at(1), { max: 3 });
    const second = await ctx.issue(uid, at(2), { max: 3 });
    const third = await ctx.issue(uid, at(3), { max: 3 });
    expect(third).toMatchObject({ createTime: at(3), evictedTokenIds: [], replacedTokenIds: [] });
    expect((await ctx.store.listTokens(uid, soon())).sort(byNewest)).toEqual([third, second, first].map((t) => publicView(t.stored)));
    expect(await ctx.allArchived(uid)).toEqual([]);
  });

  test('at the cap evicts exactly the oldest token to the archive as EVICTED', async () => {
    const uid = await ctx.newUser();
    const first = await ctx.issue(uid, at(1), { max: 3 });
    const second = await ctx.issue(uid, at(2), { max: 3 });
    const third = await ctx.issue(uid, at(3), { max: 3 });
    const fourth = await ctx.issue(uid, at(4), { max: 3 });
    expect(fourth).toMatchObject({ createTime: at(4), evictedTokenIds: [first.tokenId], replacedTokenIds: [] });
    expect(await ctx.activeIds(uid)).toEqual([second.tokenId, third.tokenId, fourth.tokenId].sort());
    expect(await ctx.allArchived(uid)).toEqual([{ authToken: publicView(first.stored), archiveTime: at(4), reason: ArchiveReason.EVICTED }]);
  });

  test('over a lowered cap evicts every token beyond it, oldest first', async () => {
    const uid = await ctx.newUser();
    const tokens = [];
    for (let i = 1; i <= 4; i++) tokens.push(await ctx.issue(uid, at(i)));
    const fifth = await ctx.issue(uid, at(5), { max: 2 });
    expect(fifth.evictedTokenIds).toEqual(tokens.slice(0, 3).map((t) => t.tokenId));
    expect(await ctx.activeIds(uid)).toEqual([tokens[3]!.tokenId, fifth.tokenId].sort());
    expect((await ctx.allArchived(uid)).every((a) => a.reason === ArchiveReason.EVICTED)).toBe(true);
    expect(await ctx.allArchived(uid)).toHaveLength(3);
  });

  clockCases(ctx);
  replacingCases(ctx);
}

/** Create times: strictly newest, one millisecond apart at least, whatever the clock says. */
function clockCases(ctx: ContractContext): void {
  test('a token issued by a clock that is behind is still stamped strictly newest (below the cap)', async () => {
    const uid = await ctx.newUser();
    const first = await ctx.issue(uid, at(10));
    const late = await ctx.issue(uid, at(-60));
    expect(late.createTime.getTime()).toBe(first.createTime.getTime() + 1);
    const stamped = await ctx.store.getToken(uid, { tokenId: late.tokenId }, soon());
    expect([stamped.createTime, stamped.updateTime]).toEqual([late.createTime, late.createTime]);
  });

  test('tokens issued in the same millisecond get strictly increasing create times', async () => {
    const uid = await ctx.newUser();
    const times = [];
    for (let i = 0; i < 5; i++) times.push((await ctx.issue(uid, at(0))).createTime.getTime());
    expect(times).toEqual([0, 1, 2, 3, 4].map((i) => T0 + i));
  });

  test('at the cap, the token evicted is the oldest, never the one just issued, whatever the clock says', async () => {
    const uid = await ctx.newUser();
    const oldest = await ctx.issue(uid, at(0), { max: 2 });
    const second = await ctx.issue(uid, at(1), { max: 2 });
    const behind = await ctx.issue(uid, at(-3600), { max: 2 });
    expect(behind.evictedTokenIds).toEqual([oldest.tokenId]);
    expect(await ctx.activeIds(uid)).toEqual([second.tokenId, behind.tokenId].sort());
    expect(behind.createTime.getTime()).toBe(second.createTime.getTime() + 1);
  });
}

/** Re-login on a device: its earlier tokens are archived as REPLACED. */
function replacingCases(ctx: ContractContext): void {
  test('replacing a device_id archives every active token of that device as REPLACED, and only those', async () => {
    const uid = await ctx.newUser();
    const phone1 = await ctx.issue(uid, at(1), { device: { deviceId: 'phone' } });
    const tablet = await ctx.issue(uid, at(2), { device: { deviceId: 'tablet' } });
    const phone2 = await ctx.issue(uid, at(3), { device: { deviceId: 'phone' } });
    const relogin = await ctx.issue(uid, at(4), { device: { deviceId: 'phone' }, replace: 'phone' });
    expect(relogin).toMatchObject({ createTime: at(4), evictedTokenIds: [], replacedTokenIds: [phone1.tokenId, phone2.tokenId] });
    expect(await ctx.activeIds(uid)).toEqual([tablet.tokenId, relogin.tokenId].sort());
    expect((await ctx.allArchived(uid)).sort((a, b) => byNewest(a.authToken, b.authToken))).toEqual(
      [phone2, phone1].map((t) => ({ authToken: publicView(t.stored), archiveTime: at(4), reason: ArchiveReason.REPLACED })),
    );
  });

  test('a replaced token does not count against the cap; with none to replace, the oldest is evicted', async () => {
    const uid = await ctx.newUser();
    const phone = await ctx.issue(uid, at(1), { max: 2, device: { deviceId: 'phone' } });
    const tablet = await ctx.issue(uid, at(2), { max: 2, device: { deviceId: 'tablet' } });
    const relogin = await ctx.issue(uid, at(3), { max: 2, device: { deviceId: 'phone' }, replace: 'phone' });
    expect(relogin).toMatchObject({ evictedTokenIds: [], replacedTokenIds: [phone.tokenId] });
    const laptop = await ctx.issue(uid, at(4), { max: 2, device: { deviceId: 'laptop' }, replace: 'laptop' });
    expect(laptop).toMatchObject({ evictedTokenIds: [tablet.tokenId], replacedTokenIds: [] });
    expect(await ctx.activeIds(uid)).toEqual([relogin.tokenId, laptop.tokenId].sort());
    expect(reasons(await ctx.allArchived(uid))).toEqual([
      [tablet.tokenId, ArchiveReason.EVICTED],
      [phone.tokenId, ArchiveReason.REPLACED],
    ]);
  });

  test('a replacing token is stamped newer than the tokens it keeps, not the ones it replaces', async () => {
    const uid = await ctx.newUser();
    const kept = await ctx.issue(uid, at(1), { device: { deviceId: 'tablet' } });
    await ctx.issue(uid, at(10), { device: { deviceId: 'phone' } });
    const relogin = await ctx.issue(uid, at(0), { device: { deviceId: 'phone' }, replace: 'phone' });
    expect(relogin.createTime.getTime()).toBe(kept.createTime.getTime() + 1);
  });
}
