// ListArchivedAuthTokens across users of one uid, end to end: a uid deleted and created again is
// a new user whose archive starts empty; include_previous_users lists every user's; after
// DeleteUser (no current user), the earlier users' archive is listed either way.
import { afterAll, beforeAll, expect, test } from 'vitest';
import { startTestService, type TestService } from '../support/service';
import { createUser, issue } from './helpers';

let svc: TestService;
beforeAll(async () => {
  svc = await startTestService();
});
afterAll(() => svc?.stop());

async function archivedIds(uid: string, includePreviousUsers: boolean): Promise<string[]> {
  const page = await svc.tokens.listArchivedAuthTokens({ uid, includePreviousUsers });
  return page.archivedAuthTokens.map((a) => a.authToken!.tokenId);
}

test('a recreated uid starts with an empty archive; include_previous_users shows the earlier user\'s too', async () => {
  await createUser(svc, 'gen-bob');
  const old = await issue(svc, 'gen-bob');
  await svc.users.deleteUser({ uid: 'gen-bob' });
  // No current user: the deleted user's archive, with or without the flag.
  expect([await archivedIds('gen-bob', false), await archivedIds('gen-bob', true)]).toEqual([[old.tokenId], [old.tokenId]]);

  await createUser(svc, 'gen-bob');
  expect(await archivedIds('gen-bob', false)).toEqual([]);
  expect(await archivedIds('gen-bob', true)).toEqual([old.tokenId]);

  const fresh = await issue(svc, 'gen-bob');
  await svc.tokens.deleteAuthToken({ uid: 'gen-bob', authToken: fresh.tokenId });
  expect(await archivedIds('gen-bob', false)).toEqual([fresh.tokenId]);
  expect(await archivedIds('gen-bob', true)).toEqual([fresh.tokenId, old.tokenId]);
});

test('users created before generations existed keep their archive, and a recreated one still starts empty', async () => {
  await createUser(svc, 'gen-legacy');
  const legacy = await issue(svc, 'gen-legacy');
  // As written by an earlier version: no generation on the user or its archived tokens.
  await svc.db.collection('users').updateOne({ _id: 'gen-legacy' as never }, { $unset: { generation: '' } });
  await svc.tokens.deleteAuthToken({ uid: 'gen-legacy', authToken: legacy.tokenId });
  await svc.db.collection('archived_tokens').updateOne({ _id: legacy.tokenId as never }, { $unset: { generation: '' } });
  expect(await archivedIds('gen-legacy', false)).toEqual([legacy.tokenId]);

  await svc.users.deleteUser({ uid: 'gen-legacy' });
  await createUser(svc, 'gen-legacy');
  expect(await archivedIds('gen-legacy', false)).toEqual([]);
  expect(await archivedIds('gen-legacy', true)).toEqual([legacy.tokenId]);
});
