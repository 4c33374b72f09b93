// A call that is over before the store does anything: past its deadline, or cancelled by its
// client. Every method fails with the matching reason and writes nothing.
import { expect, test } from 'vitest';
import { NO_DEVICE, newToken } from '../../../src/domain/auth-tokens';
import { type Deadline, callDeadline } from '../../../src/domain/deadline';
import { ErrorReason, callCancelled } from '../../../src/domain/errors';
import { hashToken } from '../../../src/domain/token-format';
import type { TokenStore } from '../../../src/domain/token-store';
import { type ContractContext, UNKNOWN_TOKEN_ID, at, reasonOf, soon } from './context';

const ref = { tokenId: UNKNOWN_TOKEN_ID };
/** Every method, with the deadline `d`, on an existing user with one token. */
const calls: [string, (s: TokenStore, uid: string, d: Deadline) => Promise<unknown>][] = [
  ['createUser', (s, uid, d) => s.createUser({ uid, name: uid, metadata: undefined, createTime: at(0), updateTime: at(0) }, undefined, d)],
  ['getUser', (s, uid, d) => s.getUser(uid, d)],
  ['deleteUser', (s, uid, d) => s.deleteUser(uid, at(1), d)],
  ['issueToken', (s, uid, d) => s.issueToken(newToken(uid, NO_DEVICE, at(1)).stored, { replaceDeviceId: undefined, maxTokensPerUser: 100 }, at(1), d)],
  ['listTokens', (s, uid, d) => s.listTokens(uid, d)],
  ['getToken', (s, uid, d) => s.getToken(uid, ref, d)],
  ['updateToken', (s, uid, d) => s.updateToken(uid, ref, { platform: 'ios' }, at(1), d)],
  ['deleteToken', (s, uid, d) => s.deleteToken(uid, ref, at(1), d)],
  ['flushTokens', (s, uid, d) => s.flushTokens(uid, {}, at(1), d)],
  ['revokeTokens', (s, uid, d) => s.revokeTokens(uid, [hashToken('x')], at(1), d)],
  ['expireTokens', (s, uid, d) => s.expireTokens(uid, at(1), d)],
  ['usersWithExpiredTokens', (s, _uid, d) => s.usersWithExpiredTokens(at(1), 10, d)],
  ['findActiveToken', (s, uid, d) => s.findActiveToken(uid, hashToken('x'), d)],
  ['recordTokenUse', (s, uid, d) => s.recordTokenUse(uid, ref.tokenId, {}, at(1), at(0), d)],
  ['listArchivedTokens', (s, uid, d) => s.listArchivedTokens(uid, undefined, 10, 'current', d)],
];

/** describe('a call that is over') */
export function deadlineCases(ctx: ContractContext): void {
  test.each(calls)('%s fails with DEADLINE_EXCEEDED once the deadline has passed, and changes nothing', async (_, call) => {
    const uid = await ctx.newUser();
    await ctx.issue(uid, at(0));
    expect(await reasonOf(call(ctx.store, uid, callDeadline(Date.now() - 1_000)))).toBe(ErrorReason.DEADLINE_EXCEEDED);
    expect(await ctx.store.listTokens(uid, soon())).toHaveLength(1);
  });
  test.each(calls)('%s fails with the reason of a call its client cancelled, and changes nothing', async (_, call) => {
    const uid = await ctx.newUser();
    await ctx.issue(uid, at(0));
    expect(await reasonOf(call(ctx.store, uid, callDeadline(Infinity, () => callCancelled())))).toBe(ErrorReason.CANCELLED);
    expect(await ctx.store.listTokens(uid, soon())).toHaveLength(1);
  });
}
