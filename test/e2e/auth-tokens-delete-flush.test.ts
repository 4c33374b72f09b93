// DeleteAuthToken and FlushAuthTokens end to end: deleting one token by secret or token_id and
// flushing all of a user's tokens archive them (DELETED, FLUSHED) so they no longer validate; a
// second delete or another user's token is ERR_AUTH_TOKEN_NOT_FOUND; the user itself remains.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { status } from '@grpc/grpc-js';
import { ArchiveReason } from '../../gen/authtoken/v1/resources';
import { startTestService, type TestService } from '../support/service';
import { grpcError } from '../support/grpc-status';
import {
  activeIds,
  allArchived,
  createUser,
  expectError,
  expectNotValid,
  expectValid,
  issue,
  issueMany,
  reasonsById,
  snapshot,
} from './helpers';

let svc: TestService;
beforeAll(async () => {
  svc = await startTestService();
});
afterAll(() => svc?.stop());

describe('DeleteAuthToken', () => {
  test('by secret and by token_id archives as DELETED; a second delete is ERR_AUTH_TOKEN_NOT_FOUND', async () => {
    await createUser(svc, 'dt-user');
    const bySecret = await issue(svc, 'dt-user', { platform: 'ios', deviceId: 'd1' });
    const byId = await issue(svc, 'dt-user');
    const kept = await issue(svc, 'dt-user');

    const before = Date.now();
    const first = await svc.tokens.deleteAuthToken({ uid: 'dt-user', authToken: bySecret.secret });
    const after = Date.now();
    expect(first.archivedAuthToken!.reason).toBe(ArchiveReason.ARCHIVE_REASON_DELETED);
    expect(first.archivedAuthToken!.authToken).toEqual({ ...bySecret.token, authToken: '' });
    expect(first.archivedAuthToken!.archiveTime!.getTime()).toBeGreaterThanOrEqual(before);
    expect(first.archivedAuthToken!.archiveTime!.getTime()).toBeLessThanOrEqual(after);

    const second = await svc.tokens.deleteAuthToken({ uid: 'dt-user', authToken: byId.tokenId });
    expect(second.archivedAuthToken!.reason).toBe(ArchiveReason.ARCHIVE_REASON_DELETED);
    expect(second.archivedAuthToken!.authToken!.tokenId).toBe(byId.tokenId);

    expect(await activeIds(svc, 'dt-user')).toEqual([kept.tokenId]);
    await expectNotValid(svc, bySecret.secret);
    await expectNotValid(svc, byId.secret);
    await expectValid(svc, kept.secret, kept.tokenId);

    const archived = await allArchived(svc, 'dt-user');
    expect(archived).toEqual([second.archivedAuthToken, first.archivedAuthToken]);

    const before2 = await snapshot(svc);
    for (const authToken of [bySecret.secret, bySecret.tokenId, byId.secret, byId.tokenId]) {
      expectError(
        await grpcError(svc.tokens.deleteAuthToken({ uid: 'dt-user', authToken })),
        status.NOT_FOUND,
        'ERR_AUTH_TOKEN_NOT_FOUND',
      );
    }
    expect(await snapshot(svc)).toEqual(before2);
  });

  test("ERR_AUTH_TOKEN_NOT_FOUND for another user's token, which stays active", async () => {
    await createUser(svc, 'dt-a');
    await createUser(svc, 'dt-b');
    const b = await issue(svc, 'dt-b');
    for (const authToken of [b.secret, b.tokenId]) {
      expectError(
        await grpcError(svc.tokens.deleteAuthToken({ uid: 'dt-a', authToken })),
        status.NOT_FOUND,
        'ERR_AUTH_TOKEN_NOT_FOUND',
      );
    }
    await expectValid(svc, b.secret, b.tokenId);
  });
});

describe('FlushAuthTokens', () => {
  test('archives every active token as FLUSHED and returns how many', async () => {
    await createUser(svc, 'ft-user');
    const issued = await issueMany(svc, 'ft-user', 4);
    const earlier = await issue(svc, 'ft-user');
    await svc.tokens.deleteAuthToken({ uid: 'ft-user', authToken: earlier.tokenId });

    expect(await svc.tokens.flushAuthTokens({ uid: 'FT-User' })).toEqual({ deletedCount: 4 });
    expect(await svc.tokens.listAuthTokens({ uid: 'ft-user' })).toEqual({ authTokens: [], nextPageToken: '', totalSize: 0 });
    for (const t of issued) await expectNotValid(svc, t.secret);

    expect(reasonsById(await allArchived(svc, 'ft-user'))).toEqual({
      ...Object.fromEntries(issued.map((t) => [t.tokenId, ArchiveReason.ARCHIVE_REASON_FLUSHED])),
      [earlier.tokenId]: ArchiveReason.ARCHIVE_REASON_DELETED,
    });

    // The user remains and can get new tokens.
    expect((await svc.users.getUser({ uid: 'ft-user' })).uid).toBe('ft-user');
    const fresh = await issue(svc, 'ft-user');
    await expectValid(svc, fresh.secret, fresh.tokenId);
  });

  test('a user with no tokens flushes 0 and archives nothing', async () => {
    await createUser(svc, 'ft-empty');
    const before = await svc.db.collection('archived_tokens').countDocuments();
    expect(await svc.tokens.flushAuthTokens({ uid: 'ft-empty' })).toEqual({ deletedCount: 0 });
    expect(await svc.tokens.flushAuthTokens({ uid: 'ft-empty' })).toEqual({ deletedCount: 0 });
    expect(await svc.db.collection('archived_tokens').countDocuments()).toBe(before);
  });
});
