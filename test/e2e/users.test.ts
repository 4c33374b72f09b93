import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { status } from '@grpc/grpc-js';
import { ArchiveReason } from '../../gen/authtoken/v1/resources';
import { startTestService, type TestService } from '../support/service';
import { grpcError } from '../support/grpc-status';
import { allArchived, issue, reasonsById, snapshot } from './helpers';

let svc: TestService;
beforeAll(async () => {
  svc = await startTestService();
});
afterAll(() => svc?.stop());

/** A JSON object whose serialized form is exactly `bytes` bytes long. */
function jsonOfBytes(bytes: number): Record<string, string> {
  const value = { k: 'x'.repeat(bytes - 8) };
  expect(Buffer.byteLength(JSON.stringify(value))).toBe(bytes);
  return value;
}

async function expectValidationFailsWithNotFound(secret: string) {
  const error = await grpcError(svc.tokens.validateAuthToken({ authToken: secret }));
  expect(error.code).toBe(status.NOT_FOUND);
  expect(error.reason).toBe('ERR_AUTH_TOKEN_NOT_FOUND');
}

describe('CreateUser', () => {
  test('lower-cases the uid and round-trips name and metadata', async () => {
    const metadata = { plan: 'pro', tags: ['a', 'b'], nested: { n: 1.5, ok: true, none: null }, '$where': 'x', 'a.b': 1 };
    const before = Date.now();
    const { user, authToken } = await svc.users.createUser({ uid: 'Alice-Create_1', name: 'Alice Ä 😀', metadata });
    const after = Date.now();

    expect(user!.uid).toBe('alice-create_1');
    expect(user!.name).toBe('Alice Ä 😀');
    expect(user!.metadata).toEqual(metadata);
    expect(user!.createTime!.getTime()).toBeGreaterThanOrEqual(before);
    expect(user!.createTime!.getTime()).toBeLessThanOrEqual(after);
    expect(user!.updateTime).toEqual(user!.createTime);
    expect(authToken).toBeUndefined();

    const fetched = await svc.users.getUser({ uid: 'alice-create_1' });
    expect(fetched).toEqual(user);

    const doc = await svc.db.collection('users').findOne({ _id: 'alice-create_1' as never });
    expect(doc).not.toBeNull();
    expect(doc!.tokens).toEqual([]);
    expect(await svc.db.collection('users').countDocuments({ _id: 'Alice-Create_1' as never })).toBe(0);

    const tokens = await svc.tokens.listAuthTokens({ uid: 'alice-create_1' });
    expect(tokens.totalSize).toBe(0);
    expect(tokens.authTokens).toEqual([]);
  });

  test('without metadata leaves it unset', async () => {
    const { user } = await svc.users.createUser({ uid: 'no-meta', name: 'No Meta' });
    expect(user!.metadata).toBeUndefined();
    expect((await svc.users.getUser({ uid: 'no-meta' })).metadata).toBeUndefined();
  });

  test('with_auth_token returns a working secret and token_id', async () => {
    const { user, authToken } = await svc.users.createUser({ uid: 'With-Token', name: 'W', withAuthToken: true });
    expect(user!.uid).toBe('with-token');
    expect(authToken!.authToken).toMatch(/^cat_with-token_[0-9A-Za-z]{36}$/);
    expect(authToken!.tokenId).toMatch(/^tid_[0-9A-Za-z]{22}$/);
    expect(authToken!.uid).toBe('with-token');
    expect(authToken!.createTime).toEqual(user!.createTime);
    expect(authToken!.lastUsedTime).toBeUndefined();

    const validated = await svc.tokens.validateAuthToken({ authToken: authToken!.authToken });
    expect(validated.uid).toBe('with-token');
    expect(validated.authToken!.tokenId).toBe(authToken!.tokenId);
    expect(validated.authToken!.authToken).toBe('');
    expect(validated.user!.name).toBe('W');

    const listed = await svc.tokens.listAuthTokens({ uid: 'with-token' });
    expect(listed.totalSize).toBe(1);
    expect(listed.authTokens.map((t) => t.tokenId)).toEqual([authToken!.tokenId]);
    expect(listed.authTokens[0]!.authToken).toBe('');
  });

  test('accepts the boundaries: 100-character uid and name, metadata of exactly 5 KB', async () => {
    const uid = 'u'.repeat(100);
    const name = '😀'.repeat(100);
    const metadata = jsonOfBytes(5 * 1024);
    const { user } = await svc.users.createUser({ uid, name, metadata });
    expect(user!.uid).toBe(uid);
    expect(user!.name).toBe(name);
    expect(user!.metadata).toEqual(metadata);
  });

  test('ERR_UID_ALREADY_EXISTS for a duplicate uid, also in another case; the original is untouched', async () => {
    await svc.users.createUser({ uid: 'bob', name: 'Original Bob', metadata: { v: 1 } });
    const before = await snapshot(svc);

    for (const uid of ['bob', 'Bob', 'BOB']) {
      const error = await grpcError(svc.users.createUser({ uid, name: 'Impostor', metadata: { v: 2 }, withAuthToken: true }));
      expect(error.code).toBe(status.ALREADY_EXISTS);
      expect(error.reason).toBe('ERR_UID_ALREADY_EXISTS');
      expect(error.domain).toBe('authtoken.v1');
      expect(error.metadata).toEqual({ uid: 'bob' });
      expect(error.fields).toEqual([]);
    }

    expect(await snapshot(svc)).toEqual(before);
    const bob = await svc.users.getUser({ uid: 'bob' });
    expect(bob.name).toBe('Original Bob');
    expect(bob.metadata).toEqual({ v: 1 });
    expect((await svc.tokens.listAuthTokens({ uid: 'bob' })).totalSize).toBe(0);
  });

  test('ERR_BAD_REQUEST names every bad field at once and writes nothing', async () => {
    const before = await snapshot(svc);
    const error = await grpcError(
      svc.users.createUser({ uid: 'bad uid!', name: '', metadata: jsonOfBytes(5 * 1024 + 1), withAuthToken: true }),
    );
    expect(error.code).toBe(status.INVALID_ARGUMENT);
    expect(error.reason).toBe('ERR_BAD_REQUEST');
    expect(error.domain).toBe('authtoken.v1');
    expect([...error.fields].sort()).toEqual(['metadata', 'name', 'uid']);
    expect(await snapshot(svc)).toEqual(before);
  });

  test.each([
    ['empty uid', { uid: '', name: 'x' }, ['uid']],
    ['uid of 101 characters', { uid: 'a'.repeat(101), name: 'x' }, ['uid']],
    ['uid with a dot', { uid: 'a.b', name: 'x' }, ['uid']],
    ['uid with a non-ASCII letter', { uid: 'jürgen', name: 'x' }, ['uid']],
    ['whitespace-only name', { uid: 'ok-uid-1', name: '   ' }, ['name']],
    ['name of 101 characters', { uid: 'ok-uid-2', name: 'n'.repeat(101) }, ['name']],
  ])('ERR_BAD_REQUEST for %s, and nothing is written', async (_label, request, fields) => {
    const usersBefore = await svc.db.collection('users').countDocuments();
    const error = await grpcError(svc.users.createUser({ ...request, withAuthToken: true }));
    expect(error.code).toBe(status.INVALID_ARGUMENT);
    expect(error.reason).toBe('ERR_BAD_REQUEST');
    expect(error.fields).toEqual(fields);
    expect(await svc.db.collection('users').countDocuments()).toBe(usersBefore);
    expect(await svc.db.collection('users').countDocuments({ _id: request.uid.toLowerCase() as never })).toBe(0);
  });
});

describe('GetUser', () => {
  test('finds the user by uid in any case', async () => {
    const { user } = await svc.users.createUser({ uid: 'carol', name: 'Carol', metadata: { team: 'x' } });
    for (const uid of ['carol', 'Carol', 'CAROL']) {
      expect(await svc.users.getUser({ uid })).toEqual(user);
    }
  });

  test('ERR_UID_NOT_FOUND for an unknown uid', async () => {
    const error = await grpcError(svc.users.getUser({ uid: 'Nobody-Here' }));
    expect(error.code).toBe(status.NOT_FOUND);
    expect(error.reason).toBe('ERR_UID_NOT_FOUND');
    expect(error.metadata).toEqual({ uid: 'nobody-here' });
  });

  test('ERR_BAD_REQUEST for a malformed uid', async () => {
    for (const uid of ['', 'bad uid!']) {
      const error = await grpcError(svc.users.getUser({ uid }));
      expect(error.code).toBe(status.INVALID_ARGUMENT);
      expect(error.reason).toBe('ERR_BAD_REQUEST');
      expect(error.fields).toEqual(['uid']);
    }
  });
});

describe('DeleteUser', () => {
  test('archives every active token as USER_DELETED, visible after the delete, and none validates', async () => {
    const { authToken: first } = await svc.users.createUser({ uid: 'dave', name: 'Dave', withAuthToken: true });
    const second = await issue(svc, 'dave', { platform: 'ios', deviceId: 'phone', userAgent: 'App/1', appInfo: { v: '1.2' } });
    const third = await issue(svc, 'dave');
    const deletedEarlier = await issue(svc, 'dave');
    await svc.tokens.deleteAuthToken({ uid: 'dave', authToken: deletedEarlier.tokenId });

    const beforeDelete = Date.now();
    const { archivedTokenCount } = await svc.users.deleteUser({ uid: 'Dave' });
    const afterDelete = Date.now();
    expect(archivedTokenCount).toBe(3);

    const getError = await grpcError(svc.users.getUser({ uid: 'dave' }));
    expect(getError.code).toBe(status.NOT_FOUND);
    expect(getError.reason).toBe('ERR_UID_NOT_FOUND');
    expect(await svc.db.collection('users').countDocuments({ _id: 'dave' as never })).toBe(0);

    const archived = await allArchived(svc, 'dave');
    expect(reasonsById(archived)).toEqual({
      [first!.tokenId]: ArchiveReason.ARCHIVE_REASON_USER_DELETED,
      [second.tokenId]: ArchiveReason.ARCHIVE_REASON_USER_DELETED,
      [third.tokenId]: ArchiveReason.ARCHIVE_REASON_USER_DELETED,
      [deletedEarlier.tokenId]: ArchiveReason.ARCHIVE_REASON_DELETED,
    });
    expect(archived).toHaveLength(4);
    // Most recently archived first: the three USER_DELETED ones come before the earlier DELETED one.
    expect(archived[3]!.authToken!.tokenId).toBe(deletedEarlier.tokenId);
    for (const a of archived.slice(0, 3)) {
      expect(a.archiveTime!.getTime()).toBeGreaterThanOrEqual(beforeDelete);
      expect(a.archiveTime!.getTime()).toBeLessThanOrEqual(afterDelete);
    }
    const archivedSecond = archived.find((a) => a.authToken!.tokenId === second.tokenId)!;
    expect(archivedSecond.authToken).toEqual({ ...second.token, authToken: '' });

    for (const secret of [first!.authToken, second.secret, third.secret, deletedEarlier.secret]) {
      await expectValidationFailsWithNotFound(secret);
    }

    const listError = await grpcError(svc.tokens.listAuthTokens({ uid: 'dave' }));
    expect(listError.code).toBe(status.NOT_FOUND);
    expect(listError.reason).toBe('ERR_UID_NOT_FOUND');

    // A new user with the same uid does not bring the old tokens back.
    await svc.users.createUser({ uid: 'dave', name: 'Dave again' });
    expect((await svc.tokens.listAuthTokens({ uid: 'dave' })).totalSize).toBe(0);
    for (const secret of [first!.authToken, second.secret, third.secret]) {
      await expectValidationFailsWithNotFound(secret);
    }
  });

  test('of a user without tokens returns 0 and archives nothing', async () => {
    await svc.users.createUser({ uid: 'erin', name: 'Erin' });
    const archivedBefore = await svc.db.collection('archived_tokens').countDocuments();
    expect(await svc.users.deleteUser({ uid: 'erin' })).toEqual({ archivedTokenCount: 0 });
    expect(await svc.db.collection('archived_tokens').countDocuments()).toBe(archivedBefore);
    expect(await svc.db.collection('users').countDocuments({ _id: 'erin' as never })).toBe(0);
  });

  test('ERR_UID_NOT_FOUND for an unknown uid and for a second delete', async () => {
    await svc.users.createUser({ uid: 'frank', name: 'Frank', withAuthToken: true });
    expect(await svc.users.deleteUser({ uid: 'frank' })).toEqual({ archivedTokenCount: 1 });
    const before = await snapshot(svc);
    for (const uid of ['frank', 'never-existed']) {
      const error = await grpcError(svc.users.deleteUser({ uid }));
      expect(error.code).toBe(status.NOT_FOUND);
      expect(error.reason).toBe('ERR_UID_NOT_FOUND');
      expect(error.metadata).toEqual({ uid });
    }
    expect(await snapshot(svc)).toEqual(before);
  });

  test('ERR_BAD_REQUEST for a malformed uid', async () => {
    const error = await grpcError(svc.users.deleteUser({ uid: 'no spaces' }));
    expect(error.code).toBe(status.INVALID_ARGUMENT);
    expect(error.reason).toBe('ERR_BAD_REQUEST');
    expect(error.fields).toEqual(['uid']);
  });
});
