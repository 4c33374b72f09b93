// Prometheus metrics, scraped over HTTP from the service's own /metrics port after a known sequence
// of real calls: every counter must hold exactly what those calls did. The file has its own
// service, so nothing else adds to the counts.
import { status } from '@grpc/grpc-js';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { issueToken } from '../../src/domain/token-format';
import { startTestService, type TestService } from '../support/service';
import { grpcError } from '../support/grpc-status';
import { type Scrape, scrapeMetrics } from '../support/metrics';

let svc: TestService;

beforeAll(async () => {
  svc = await startTestService({ MAX_TOKENS_PER_USER: '2' });
});

afterAll(() => svc?.stop());

const rpc = (service: 'UserService' | 'AuthTokenService', method: string) => ({
  grpc_type: 'unary',
  grpc_service: `authtoken.v1.${service}`,
  grpc_method: method,
});

test('counters match exactly the calls made', async () => {
  const { second, third } = await issueFourTokensEvictingTwo();
  await validateFourTimes(second!.authToken, third!.authToken);
  await deleteOneThenFlushTheLast(second!.tokenId);

  const scrape = await scrapeMetrics(svc.metricsPort);
  expect(scrape.contentType).toBe('text/plain; version=0.0.4; charset=utf-8');
  const value = (name: string, labels?: Record<string, string>) => scrape.value(name, labels);
  expectPerMethodSeries(scrape, value);
  expectTokenCounters(value);
  await expectTheArchiveToAgree();

  // Default process metrics are exported too.
  expect(value('process_cpu_user_seconds_total')).toBeGreaterThan(0);
});

// The steps of the counters test: the calls, in the order it makes them, then what the scrape must say.

/** CreateUser with its first token, then three more at a cap of 2; resolves with the second and third of those. */
async function issueFourTokensEvictingTwo() {
  // CreateUser with its first token: issued 1.
  const created = await svc.users.createUser({ uid: 'metrics', name: 'Metrics', withAuthToken: true });
  // Three more tokens at a cap of 2: the second and third each evict the oldest.
  const issued = [];
  for (let i = 0; i < 3; i++) issued.push(await svc.tokens.createAuthToken({ uid: 'metrics' }));
  expect(issued.map((r) => r.evictedTokenIds.length)).toEqual([0, 1, 1]);
  expect(issued[1]!.evictedTokenIds).toEqual([created.authToken!.tokenId]);
  expect(issued[2]!.evictedTokenIds).toEqual([issued[0]!.authToken!.tokenId]);
  const [, second, third] = issued.map((r) => r.authToken!);
  return { second, third };
}

/** Validations: 2 valid, 1 well-formed but never issued (not_found), 1 malformed (invalid). */
async function validateFourTimes(secondSecret: string, thirdSecret: string): Promise<void> {
  expect((await svc.tokens.validateAuthToken({ authToken: secondSecret })).uid).toBe('metrics');
  expect((await svc.tokens.validateAuthToken({ authToken: thirdSecret })).uid).toBe('metrics');
  const notFound = await grpcError(svc.tokens.validateAuthToken({ authToken: issueToken('metrics').token }));
  expect([notFound.code, notFound.reason]).toEqual([status.NOT_FOUND, 'ERR_AUTH_TOKEN_NOT_FOUND']);
  const invalid = await grpcError(svc.tokens.validateAuthToken({ authToken: 'not-a-token' }));
  expect([invalid.code, invalid.reason]).toEqual([status.INVALID_ARGUMENT, 'ERR_BAD_REQUEST']);
}

/** One delete, then a flush of the one token left. */
async function deleteOneThenFlushTheLast(tokenId: string): Promise<void> {
  const deleted = await svc.tokens.deleteAuthToken({ uid: 'metrics', authToken: tokenId });
  expect(deleted.archivedAuthToken?.authToken?.tokenId).toBe(tokenId);
  expect((await svc.tokens.flushAuthTokens({ uid: 'metrics' })).deletedCount).toBe(1);
}

/** Per method: started, handled by code, and timed, once per call. */
function expectPerMethodSeries(scrape: Scrape, value: Scrape['value']): void {
  const calls: [ReturnType<typeof rpc>, Record<string, number>][] = [
    [rpc('UserService', 'CreateUser'), { OK: 1 }],
    [rpc('AuthTokenService', 'CreateAuthToken'), { OK: 3 }],
    [rpc('AuthTokenService', 'ValidateAuthToken'), { OK: 2, NOT_FOUND: 1, INVALID_ARGUMENT: 1 }],
    [rpc('AuthTokenService', 'DeleteAuthToken'), { OK: 1 }],
    [rpc('AuthTokenService', 'FlushAuthTokens'), { OK: 1 }],
  ];
  for (const [labels, byCode] of calls) {
    const total = Object.values(byCode).reduce((a, b) => a + b, 0);
    expect(value('grpc_server_started_total', labels), labels.grpc_method).toBe(total);
    for (const code of ['OK', 'NOT_FOUND', 'INVALID_ARGUMENT']) {
      expect(value('grpc_server_handled_total', { ...labels, grpc_code: code }), `${labels.grpc_method} ${code}`).toBe(
        byCode[code],
      );
    }
    expect(value('grpc_server_handling_seconds_count', labels), labels.grpc_method).toBe(total);
    expect(value('grpc_server_handling_seconds_bucket', { ...labels, le: '+Inf' }), labels.grpc_method).toBe(total);
    expect(value('grpc_server_handling_seconds_sum', labels)).toBeGreaterThan(0);
  }
  // Methods never called have no series at all.
  const startedSeries = scrape.series.filter((s) => s.name === 'grpc_server_started_total');
  expect(startedSeries).toHaveLength(calls.length);
  expect(value('grpc_server_started_total', rpc('UserService', 'GetUser'))).toBeUndefined();
}

/** Token counters: 1 (CreateUser) + 3 issued, 2 evicted; archived by reason. */
function expectTokenCounters(value: Scrape['value']): void {
  expect(value('authtoken_tokens_issued_total')).toBe(4);
  expect(value('authtoken_tokens_evicted_total')).toBe(2);
  expect(value('authtoken_tokens_archived_total', { reason: 'EVICTED' })).toBe(2);
  expect(value('authtoken_tokens_archived_total', { reason: 'DELETED' })).toBe(1);
  expect(value('authtoken_tokens_archived_total', { reason: 'FLUSHED' })).toBe(1);
  expect(value('authtoken_tokens_archived_total', { reason: 'REPLACED' })).toBeUndefined();
  expect(value('authtoken_tokens_archived_total', { reason: 'USER_DELETED' })).toBeUndefined();
  expect(value('authtoken_validations_total', { result: 'valid' })).toBe(2);
  expect(value('authtoken_validations_total', { result: 'not_found' })).toBe(1);
  expect(value('authtoken_validations_total', { result: 'invalid' })).toBe(1);
}

/** The archive agrees with the counters. */
async function expectTheArchiveToAgree(): Promise<void> {
  const archivedByReason = await svc.db
    .collection('archived_tokens')
    .aggregate<{ _id: string; n: number }>([{ $group: { _id: '$reason', n: { $sum: 1 } } }, { $sort: { _id: 1 } }])
    .toArray();
  expect(archivedByReason).toEqual([
    { _id: 'DELETED', n: 1 },
    { _id: 'EVICTED', n: 2 },
    { _id: 'FLUSHED', n: 1 },
  ]);
}

test('only GET /metrics is served', async () => {
  const other = await fetch(`http://127.0.0.1:${svc.metricsPort}/`);
  expect(other.status).toBe(404);
  const post = await fetch(`http://127.0.0.1:${svc.metricsPort}/metrics`, { method: 'POST' });
  expect(post.status).toBe(404);
});
