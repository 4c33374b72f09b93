// Leaked secrets revoked by hash (revokeTokens): only the user's active ones, archived as LEAKED,
// exactly those returned; nothing for an unknown user or a hash that is not active.
import { expect, test } from 'vitest';
import { hashToken } from '../../../src/domain/token-format';
import { type ContractContext, at, soon } from './context';

const hex = (hashes: Buffer[]) => hashes.map((h) => h.toString('hex')).sort();

/** describe('revokeTokens') */
export function revocationCases(ctx: ContractContext): void {
  test('archives the active tokens among the hashes as LEAKED and returns exactly them', async () => {
    const uid = await ctx.newUser();
    const [leaked1, leaked2, kept] = [await ctx.issue(uid, at(1)), await ctx.issue(uid, at(2)), await ctx.issue(uid, at(3))];
    const unknown = hashToken('cat_nobody_knows_this');
    const hashes = [leaked1.stored.tokenHash, leaked2.stored.tokenHash, unknown];
    expect(hex(await ctx.store.revokeTokens(uid, hashes, at(9), soon()))).toEqual(hex([leaked1.stored.tokenHash, leaked2.stored.tokenHash]));
    expect(await ctx.activeIds(uid)).toEqual([kept.tokenId]);
    const archived = await ctx.allArchived(uid);
    expect(archived.map((a) => [a.authToken.tokenId, a.reason, a.archiveTime.toISOString()]).sort()).toEqual(
      [leaked1, leaked2].map((t) => [t.tokenId, 'LEAKED', at(9).toISOString()]).sort(),
    );
    // Again: nothing is active any more, nothing is revoked or archived twice.
    expect(await ctx.store.revokeTokens(uid, hashes, at(10), soon())).toEqual([]);
    expect(await ctx.allArchived(uid)).toHaveLength(2);
  });

  test('another user\'s token is not revoked through this uid, and an unknown user revokes nothing', async () => {
    const [uid, other] = [await ctx.newUser(), await ctx.newUser()];
    const others = await ctx.issue(other, at(1));
    expect(await ctx.store.revokeTokens(uid, [others.stored.tokenHash], at(9), soon())).toEqual([]);
    expect(await ctx.store.revokeTokens('nobody-here', [others.stored.tokenHash], at(9), soon())).toEqual([]);
    expect(await ctx.activeIds(other)).toEqual([others.tokenId]);
    expect(await ctx.allArchived(other)).toEqual([]);
  });
}
