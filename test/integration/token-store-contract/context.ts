// What every case module of the TokenStore contract shares: explicit clocks, fresh uids, the
// expected-failure helper, and the store under test with the few helpers built on it.
import { expect } from 'vitest';
import { NO_DEVICE, newToken } from '../../../src/domain/auth-tokens';
import { callDeadline } from '../../../src/domain/deadline';
import { DomainError } from '../../../src/domain/errors';
import type { ArchivedAuthToken, AuthToken, DeviceInfo, User } from '../../../src/domain/model';
import { newestFirst } from '../../../src/domain/rules';
import type { TokenStore } from '../../../src/domain/token-store';

/** A deadline for store calls: the default budget a gRPC call without one gets. */
export const soon = () => callDeadline(Infinity);
export const T0 = new Date('2026-06-01T12:00:00.000Z').getTime();
/** `seconds` after T0. */
export const at = (seconds: number) => new Date(T0 + seconds * 1000);

let uids = 0;
/** A uid of the test's own: both stores are shared by every case of their suite. */
export const freshUid = () => `contract-${++uids}`;

/** The reason of the DomainError `pending` fails with. */
export async function reasonOf(pending: Promise<unknown>): Promise<string> {
  const error: unknown = await pending.then(
    () => expect.fail('expected the call to fail, but it succeeded'),
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(DomainError);
  return (error as DomainError).reason;
}

export const byNewest = (a: AuthToken, b: AuthToken) =>
  newestFirst({ time: a.createTime, id: a.tokenId }, { time: b.createTime, id: b.tokenId });

export function userRecord(uid: string, createTime = at(0)): User {
  return { uid, name: `Name of ${uid}`, metadata: { team: 'blue', n: 1 }, createTime, updateTime: createTime };
}

export const reasons = (archived: ArchivedAuthToken[]) => archived.map((a) => [a.authToken.tokenId, a.reason]);

/** A test id that no store ever issues. */
export const UNKNOWN_TOKEN_ID = 'tid_0000000000000000000000';

interface IssueOptions {
  max?: number;
  device?: Partial<DeviceInfo>;
  replace?: string;
  expireTime?: Date;
}

/** The store under test, as every case module is given it, with the helpers that write through it. */
export class ContractContext {
  /** Opened by the suite's beforeAll: read it inside a test, never while registering one. */
  store!: TokenStore;

  async newUser(uid = freshUid()): Promise<string> {
    await this.store.createUser(userRecord(uid), undefined, soon());
    return uid;
  }

  /** Issues a token for `uid` as AuthTokens does: requested create time = now. */
  async issue(uid: string, when: Date, { max = 100, device = {}, replace, expireTime }: IssueOptions = {}) {
    const { secret, stored } = newToken(uid, { ...NO_DEVICE, ...device }, when, expireTime);
    const result = await this.store.issueToken(stored, { replaceDeviceId: replace, maxTokensPerUser: max }, when, soon());
    return { secret, stored, tokenId: stored.tokenId, ...result };
  }

  async activeIds(uid: string): Promise<string[]> {
    return (await this.store.listTokens(uid, soon())).map((t) => t.tokenId).sort();
  }

  allArchived(uid: string): Promise<ArchivedAuthToken[]> {
    return this.store.listArchivedTokens(uid, undefined, 1000, 'current', soon());
  }
}
