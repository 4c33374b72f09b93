// ListAuthTokens and ListArchivedAuthTokens end to end: newest (or most recently archived) first,
// paging with next_page_token so that every token is listed exactly once, the page_size bounds, and
// ERR_BAD_REQUEST for negative page sizes and garbage, foreign or cross-listing page tokens.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { status } from '@grpc/grpc-js';
import { ArchiveReason } from '../../gen/authtoken/v1/resources';
import { startTestService, type TestService } from '../support/service';
import { grpcError } from '../support/grpc-status';
import { activeIds, createUser, expectError, issue, issueMany } from './helpers';

let svc: TestService;
beforeAll(async () => {
  svc = await startTestService();
});
afterAll(() => svc?.stop());

describe('ListAuthTokens', () => {
  test('pages newest first with page_size 7, every id exactly once', async () => {
    await createUser(svc, 'lt-pages');
    const issued = await issueMany(svc, 'lt-pages', 20);
    const expected = issued.map((t) => t.tokenId).reverse();

    const seen: string[] = [];
    const pageSizes: number[] = [];
    let pageToken = '';
    do {
      const page = await svc.tokens.listAuthTokens({ uid: 'lt-pages', pageSize: 7, pageToken });
      expect(page.totalSize).toBe(20);
      for (const t of page.authTokens) expect(t.authToken).toBe('');
      seen.push(...page.authTokens.map((t) => t.tokenId));
      pageSizes.push(page.authTokens.length);
      pageToken = page.nextPageToken;
    } while (pageToken !== '' && pageSizes.length < 10);
    expect(pageSizes).toEqual([7, 7, 6]);
    expect(seen).toEqual(expected);

    const createTimes = (await svc.tokens.listAuthTokens({ uid: 'lt-pages' })).authTokens.map((t) => t.createTime!.getTime());
    expect(createTimes).toEqual([...createTimes].sort((a, b) => b - a));
  });

  test('a page that ends exactly at the last token has an empty next_page_token', async () => {
    await createUser(svc, 'lt-exact');
    const issued = await issueMany(svc, 'lt-exact', 4);
    const first = await svc.tokens.listAuthTokens({ uid: 'lt-exact', pageSize: 2 });
    expect(first.nextPageToken).not.toBe('');
    const second = await svc.tokens.listAuthTokens({ uid: 'lt-exact', pageSize: 2, pageToken: first.nextPageToken });
    expect(second.nextPageToken).toBe('');
    expect([...first.authTokens, ...second.authTokens].map((t) => t.tokenId)).toEqual(
      issued.map((t) => t.tokenId).reverse(),
    );
  });

  test('a user without tokens lists nothing', async () => {
    await createUser(svc, 'lt-empty');
    expect(await svc.tokens.listAuthTokens({ uid: 'lt-empty' })).toEqual({ authTokens: [], nextPageToken: '', totalSize: 0 });
  });

  describe('page_size bounds (cap raised to 150)', () => {
    let big: TestService;
    let ids: string[];
    beforeAll(async () => {
      big = await startTestService({ MAX_TOKENS_PER_USER: '150' });
      await createUser(big, 'lt-big');
      ids = (await issueMany(big, 'lt-big', 120)).map((t) => t.tokenId).reverse();
    });
    afterAll(() => big?.stop());

    test('page_size 0 returns 100', async () => {
      const page = await big.tokens.listAuthTokens({ uid: 'lt-big', pageSize: 0 });
      expect(page.totalSize).toBe(120);
      expect(page.authTokens.map((t) => t.tokenId)).toEqual(ids.slice(0, 100));
      expect(page.nextPageToken).not.toBe('');
      const rest = await big.tokens.listAuthTokens({ uid: 'lt-big', pageToken: page.nextPageToken });
      expect(rest.authTokens.map((t) => t.tokenId)).toEqual(ids.slice(100));
      expect(rest.nextPageToken).toBe('');
    });

    test('page_size above 100 is lowered to 100', async () => {
      for (const pageSize of [101, 1000, 2 ** 31 - 1]) {
        const page = await big.tokens.listAuthTokens({ uid: 'lt-big', pageSize });
        expect(page.authTokens.map((t) => t.tokenId)).toEqual(ids.slice(0, 100));
        expect(page.nextPageToken).not.toBe('');
      }
    });
  });

  test('ERR_BAD_REQUEST for a negative page_size, a garbage or foreign page_token', async () => {
    await createUser(svc, 'lt-bad-a');
    await createUser(svc, 'lt-bad-b');
    await issueMany(svc, 'lt-bad-a', 3);
    await issueMany(svc, 'lt-bad-b', 3);
    const page = await svc.tokens.listAuthTokens({ uid: 'lt-bad-a', pageSize: 1 });
    expect(page.nextPageToken).not.toBe('');
    await svc.tokens.deleteAuthToken({ uid: 'lt-bad-a', authToken: page.authTokens[0]!.tokenId });
    await svc.tokens.deleteAuthToken({ uid: 'lt-bad-a', authToken: (await activeIds(svc, 'lt-bad-a'))[0]! });
    const archivePage = await svc.tokens.listArchivedAuthTokens({ uid: 'lt-bad-a', pageSize: 1 });
    expect(archivePage.nextPageToken).not.toBe('');

    const cases: [string, object, string[]][] = [
      ['negative page_size', { uid: 'lt-bad-a', pageSize: -1 }, ['page_size']],
      ['garbage page_token', { uid: 'lt-bad-a', pageToken: 'garbage!!' }, ['page_token']],
      ['base64 garbage page_token', { uid: 'lt-bad-a', pageToken: Buffer.from('{"v":2}').toString('base64url') }, ['page_token']],
      ['page_token of another uid', { uid: 'lt-bad-b', pageToken: page.nextPageToken }, ['page_token']],
      ['page_token of the archive listing', { uid: 'lt-bad-a', pageToken: archivePage.nextPageToken }, ['page_token']],
      ['both at once', { uid: 'lt-bad-a', pageSize: -5, pageToken: 'x' }, ['page_size', 'page_token']],
    ];
    for (const [label, request, fields] of cases) {
      const error = await grpcError(svc.tokens.listAuthTokens(request));
      expect({ label, code: error.code, reason: error.reason, fields: [...error.fields].sort() }).toEqual({
        label,
        code: status.INVALID_ARGUMENT,
        reason: 'ERR_BAD_REQUEST',
        fields,
      });
    }

    // The listing of archived tokens checks its page tokens the same way.
    const foreign = await grpcError(svc.tokens.listArchivedAuthTokens({ uid: 'lt-bad-b', pageToken: archivePage.nextPageToken }));
    expectError(foreign, status.INVALID_ARGUMENT, 'ERR_BAD_REQUEST', ['page_token']);
    const tokensToken = await grpcError(svc.tokens.listArchivedAuthTokens({ uid: 'lt-bad-a', pageToken: page.nextPageToken }));
    expectError(tokensToken, status.INVALID_ARGUMENT, 'ERR_BAD_REQUEST', ['page_token']);
    const negative = await grpcError(svc.tokens.listArchivedAuthTokens({ uid: 'lt-bad-a', pageSize: -1 }));
    expectError(negative, status.INVALID_ARGUMENT, 'ERR_BAD_REQUEST', ['page_size']);
  });
});

describe('ListArchivedAuthTokens', () => {
  test('pages most recently archived first, every archived token exactly once', async () => {
    await createUser(svc, 'la-pages');
    const issued = await issueMany(svc, 'la-pages', 5);
    for (const t of issued) await svc.tokens.deleteAuthToken({ uid: 'la-pages', authToken: t.tokenId });

    const seen: string[] = [];
    let pageToken = '';
    let pages = 0;
    do {
      const page = await svc.tokens.listArchivedAuthTokens({ uid: 'la-pages', pageSize: 2, pageToken });
      for (const a of page.archivedAuthTokens) {
        expect(a.reason).toBe(ArchiveReason.ARCHIVE_REASON_DELETED);
        expect(a.authToken!.authToken).toBe('');
      }
      seen.push(...page.archivedAuthTokens.map((a) => a.authToken!.tokenId));
      pageToken = page.nextPageToken;
      pages++;
    } while (pageToken !== '' && pages < 10);
    expect(pages).toBe(3);
    expect(seen).toEqual(issued.map((t) => t.tokenId).reverse());
  });

  test('a user with nothing archived lists nothing', async () => {
    await createUser(svc, 'la-empty');
    await issue(svc, 'la-empty');
    expect(await svc.tokens.listArchivedAuthTokens({ uid: 'la-empty' })).toEqual({ archivedAuthTokens: [], nextPageToken: '' });
  });
});
