// RevokeAuthTokens end to end, as a secret scanner calls it: secrets of several users in one call,
// each answered in request order (REVOKED, NOT_FOUND, MALFORMED) and never with whose it was;
// what was revoked stops validating at once and is archived as LEAKED; bad requests are named.
import { status } from '@grpc/grpc-js';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { RevocationResult } from '../../gen/authtoken/v1/auth_token_service';
import { ArchiveReason } from '../../gen/authtoken/v1/resources';
import { REVOKE_MAX_TOKENS } from '../../src/domain/rules';
import { grpcError } from '../support/grpc-status';
import { startTestService, type TestService } from '../support/service';
import { allArchived, createUser, expectError, expectNotValid, expectValid, issue, reasonsById, snapshot } from './helpers';

let svc: TestService;
beforeAll(async () => {
  svc = await startTestService();
});
afterAll(() => svc?.stop());

const { REVOCATION_RESULT_REVOKED: REVOKED, REVOCATION_RESULT_NOT_FOUND: NOT_FOUND, REVOCATION_RESULT_MALFORMED: MALFORMED } =
  RevocationResult;

test('leaked secrets of two users in one call: each answered in order; revoked ones stop validating and are archived as LEAKED', async () => {
  await createUser(svc, 'leak-a');
  await createUser(svc, 'leak-b');
  const [a1, a2, aKept] = [await issue(svc, 'leak-a'), await issue(svc, 'leak-a'), await issue(svc, 'leak-a')];
  const b1 = await issue(svc, 'leak-b');
  await svc.tokens.deleteAuthToken({ uid: 'leak-b', authToken: (await issue(svc, 'leak-b')).tokenId });
  const archivedB = (await allArchived(svc, 'leak-b'))[0]!.authToken!;
  const tampered = `${a1.secret.slice(0, -1)}${a1.secret.endsWith('0') ? '1' : '0'}`;
  const neverIssued = 'cat_leak-a_000000000000000000000000000000aaaaaa';

  const response = await svc.tokens.revokeAuthTokens({
    authTokens: [a1.secret, tampered, b1.secret, a1.tokenId, a2.secret, a1.secret, neverIssued],
  });
  expect(response.results).toEqual([REVOKED, MALFORMED, REVOKED, MALFORMED, REVOKED, REVOKED, expect.any(Number)]);
  // The made-up secret is either malformed (its checksum) or, by chance, well formed and unknown.
  expect([NOT_FOUND, MALFORMED]).toContain(response.results[6]);

  for (const t of [a1, a2, b1]) await expectNotValid(svc, t.secret);
  await expectValid(svc, aKept.secret, aKept.tokenId);
  expect(reasonsById(await allArchived(svc, 'leak-a'))).toEqual({
    [a1.tokenId]: ArchiveReason.ARCHIVE_REASON_LEAKED,
    [a2.tokenId]: ArchiveReason.ARCHIVE_REASON_LEAKED,
  });
  expect(reasonsById(await allArchived(svc, 'leak-b'))).toEqual({
    [b1.tokenId]: ArchiveReason.ARCHIVE_REASON_LEAKED,
    [archivedB.tokenId]: ArchiveReason.ARCHIVE_REASON_DELETED,
  });
});

test('secrets already revoked, or of a deleted user, are NOT_FOUND, and nothing changes', async () => {
  await createUser(svc, 'leak-gone');
  const gone = await issue(svc, 'leak-gone');
  await svc.users.deleteUser({ uid: 'leak-gone' });
  const before = await snapshot(svc);
  expect((await svc.tokens.revokeAuthTokens({ authTokens: [gone.secret, gone.secret] })).results).toEqual([NOT_FOUND, NOT_FOUND]);
  expect(await snapshot(svc)).toEqual(before);
});

test(`no secrets, or more than ${REVOKE_MAX_TOKENS}: INVALID_ARGUMENT naming auth_tokens, and nothing changes`, async () => {
  await createUser(svc, 'leak-many');
  const kept = await issue(svc, 'leak-many');
  const before = await snapshot(svc);
  // Short secrets, so that the request stays within the 64 KiB request limit and the count is what is refused.
  const tooMany = [kept.secret, ...Array.from({ length: REVOKE_MAX_TOKENS }, (_, i) => `x${i}`)];
  for (const authTokens of [[], tooMany]) {
    expectError(await grpcError(svc.tokens.revokeAuthTokens({ authTokens })), status.INVALID_ARGUMENT, 'ERR_BAD_REQUEST', ['auth_tokens']);
  }
  expect(await snapshot(svc)).toEqual(before);
  await expectValid(svc, kept.secret, kept.tokenId);
});

test(`${REVOKE_MAX_TOKENS} secrets of short uids fit in one call`, async () => {
  const uids = Array.from({ length: 10 }, (_, i) => `lk${i}`);
  for (const uid of uids) await createUser(svc, uid);
  const issued = [];
  for (let i = 0; i < REVOKE_MAX_TOKENS; i++) issued.push(await issue(svc, uids[i % uids.length]!, { deviceId: `d${i}` }));
  const { results } = await svc.tokens.revokeAuthTokens({ authTokens: issued.map((t) => t.secret) });
  // Each user is at its cap of 100: every one of its tokens is active, and every one is revoked.
  expect(results).toEqual(issued.map(() => REVOKED));
  for (const uid of uids) expect((await svc.tokens.listAuthTokens({ uid })).totalSize).toBe(0);
});
