// The rules of UserService's use cases on the in-memory store (held to MongoTokenStore's behaviour
// by test/integration/token-store-contract.test.ts).
import { describe, expect, test } from 'vitest';
import { AuthTokens, NO_DEVICE } from '../../src/domain/auth-tokens';
import { callDeadline } from '../../src/domain/deadline';
import { DomainError, ErrorReason } from '../../src/domain/errors';
import { ArchiveReason } from '../../src/domain/model';
import { IGNORE_ACTIVITY } from '../../src/domain/token-activity';
import { Users } from '../../src/domain/users';
import { InMemoryTokenStore } from '../support/in-memory-token-store';

const at = new Date('2026-06-01T12:00:00.000Z');
const soon = () => callDeadline(Infinity);

function service() {
  const store = new InMemoryTokenStore();
  return {
    users: new Users(store, IGNORE_ACTIVITY, undefined, () => at),
    tokens: new AuthTokens(store, { maxTokensPerUser: 100 }, IGNORE_ACTIVITY, () => at),
  };
}

async function reasonOf(pending: Promise<unknown>): Promise<string> {
  const error: unknown = await pending.then(
    () => expect.fail('expected the call to fail, but it succeeded'),
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(DomainError);
  return (error as DomainError).reason;
}

describe('Users', () => {
  test('a user created with an auth token has exactly that token, and it validates', async () => {
    const { users, tokens } = service();
    const { user, issued } = await users.create({ uid: 'Alice', name: 'Alice', metadata: { team: 'blue' }, withAuthToken: true }, soon());
    expect(user).toEqual({ uid: 'alice', name: 'Alice', metadata: { team: 'blue' }, createTime: at, updateTime: at });
    expect(await users.get({ uid: 'ALICE' }, soon())).toEqual(user);
    expect((await tokens.list({ uid: 'alice', pageSize: 0, pageToken: '' }, soon())).items).toEqual([issued!.authToken]);
    expect((await tokens.validate({ authToken: issued!.secret, ...NO_DEVICE }, soon())).user).toEqual(user);
  });

  test('a uid that differs only in case is the same user: UID_ALREADY_EXISTS', async () => {
    const { users } = service();
    await users.create({ uid: 'alice', name: 'Alice', metadata: undefined, withAuthToken: false }, soon());
    expect(await reasonOf(users.create({ uid: 'ALICE', name: 'Other', metadata: undefined, withAuthToken: true }, soon()))).toBe(
      ErrorReason.UID_ALREADY_EXISTS,
    );
    expect((await users.get({ uid: 'alice' }, soon())).name).toBe('Alice');
  });

  test('deleting a user archives its tokens as USER_DELETED, returns how many, and its secrets stop working', async () => {
    const { users, tokens } = service();
    const { issued } = await users.create({ uid: 'alice', name: 'Alice', metadata: undefined, withAuthToken: true }, soon());
    await tokens.create({ uid: 'alice', ...NO_DEVICE, force: false }, soon());
    expect(await users.delete({ uid: 'alice' }, soon())).toBe(2);
    expect(await reasonOf(users.get({ uid: 'alice' }, soon()))).toBe(ErrorReason.UID_NOT_FOUND);
    expect(await reasonOf(tokens.validate({ authToken: issued!.secret, ...NO_DEVICE }, soon()))).toBe(ErrorReason.AUTH_TOKEN_NOT_FOUND);
    const archived = await tokens.listArchived({ uid: 'alice', pageSize: 0, pageToken: '' }, soon());
    expect(archived.items.map((a) => a.reason)).toEqual([ArchiveReason.USER_DELETED, ArchiveReason.USER_DELETED]);
    expect(await reasonOf(users.delete({ uid: 'alice' }, soon()))).toBe(ErrorReason.UID_NOT_FOUND);
  });

  test('rejects a uid outside the rule before touching the store', async () => {
    const { users } = service();
    const error = await users.get({ uid: 'not a uid' }, soon()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DomainError);
    expect((error as DomainError).reason).toBe(ErrorReason.BAD_REQUEST);
    expect((error as DomainError).fieldViolations.map((v) => v.field)).toEqual(['uid']);
  });
});
