// Rate limits end to end: per API key (RATE_LIMIT_PER_KEY calls per second, burst the same) and
// per uid for CreateAuthToken (UID_CREATE_LIMIT_PER_MINUTE, burst the same). Over a limit a call
// gets RESOURCE_EXHAUSTED with ErrorInfo ERR_TOO_MANY_REQUESTS and a google.rpc.RetryInfo delay,
// decoded here from the grpc-status-details-bin trailer as any client would.
import { type ServiceError, status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { generateApiKey, keyEntry } from '../../src/domain/api-keys';
import { startTestService, type TestService } from '../support/service';
import { bearer, decodeError, detailTypes, STATUS_DETAILS_KEY } from '../support/grpc-status';

interface Outcome {
  code: number;
  reason?: string;
  /** RetryInfo.retry_delay in milliseconds, when the status carries one. */
  retryDelayMs?: number;
  detailTypes?: string[];
}

/** The status of a call and its ErrorInfo reason and RetryInfo delay, decoded from the trailer. */
async function outcome(pending: Promise<unknown>): Promise<Outcome> {
  try {
    await pending;
    return { code: status.OK };
  } catch (error) {
    const serviceError = error as ServiceError;
    const raw = serviceError.metadata?.get(STATUS_DETAILS_KEY)[0];
    if (!Buffer.isBuffer(raw)) return { code: serviceError.code };
    const { code, reason, retryDelayMs } = decodeError(serviceError);
    return { code, reason, detailTypes: detailTypes(raw), ...(retryDelayMs === undefined ? {} : { retryDelayMs }) };
  }
}


const TOO_MANY = {
  code: status.RESOURCE_EXHAUSTED,
  reason: 'ERR_TOO_MANY_REQUESTS',
  detailTypes: ['type.googleapis.com/google.rpc.ErrorInfo', 'type.googleapis.com/google.rpc.RetryInfo'],
};

describe('per API key: RATE_LIMIT_PER_KEY=5', () => {
  const first = generateApiKey();
  const second = generateApiKey();
  const third = generateApiKey();
  let svc: TestService;

  beforeAll(async () => {
    svc = await startTestService({
      RATE_LIMIT_PER_KEY: '5',
      API_KEYS: [keyEntry('first', 'full', first), keyEntry('second', 'full', second), keyEntry('third', 'full', third)].join(','),
    });
  });
  afterAll(() => svc?.stop());

  test('a burst of 6 calls with one key: 5 pass, 1 is RESOURCE_EXHAUSTED with a RetryInfo of at most 1/5 s; another key has its own bucket', async () => {
    // All at once, so no meaningful refill happens between them (one token per 200 ms).
    const [withFirst, withSecond] = await Promise.all([
      Promise.all(Array.from({ length: 6 }, (_, i) => outcome(svc.users.createUser({ uid: `burst-${i}`, name: 'B' }, bearer(first))))),
      Promise.all(Array.from({ length: 5 }, (_, i) => outcome(svc.users.createUser({ uid: `other-${i}`, name: 'O' }, bearer(second))))),
    ]);

    const passed = withFirst.filter((o) => o.code === status.OK);
    const refused = withFirst.filter((o) => o.code !== status.OK);
    expect(passed).toHaveLength(5);
    expect(refused).toHaveLength(1);
    const [limited] = refused;
    expect(limited).toMatchObject(TOO_MANY);
    // The bucket is empty (or nearly): the next token is at most 1/5 s away, and not now.
    expect(limited!.retryDelayMs).toBeGreaterThan(0);
    expect(limited!.retryDelayMs).toBeLessThanOrEqual(200);

    // The second key's 5 calls all passed, in the same instant.
    expect(withSecond.map((o) => o.code)).toEqual([0, 0, 0, 0, 0]);

    // The refused call changed nothing: exactly the 10 users whose calls passed exist.
    const refusedUid = `burst-${withFirst.findIndex((o) => o.code !== status.OK)}`;
    const stored = (await svc.db.collection('users').find({}, { projection: { _id: 1 } }).toArray()).map((d) => String(d._id));
    expect(stored).toHaveLength(10);
    expect(stored).not.toContain(refusedUid);
  });

  test('after waiting the RetryInfo delay, the key works again', async () => {
    // Drain the bucket: calls until one is refused (5 pass, then one within the next 1/5 s fails).
    let last: Outcome = { code: status.OK };
    let calls = 0;
    while (last.code === status.OK && calls < 50) {
      last = await outcome(svc.users.getUser({ uid: 'other-0' }, bearer(third)));
      calls++;
    }
    expect(last).toMatchObject(TOO_MANY);
    expect(calls).toBeGreaterThanOrEqual(6);
    // Honour the server's RetryInfo (what a well-behaved client does), then retry once.
    await new Promise((wake) => setTimeout(wake, Math.ceil(last.retryDelayMs!)));
    expect(await outcome(svc.users.getUser({ uid: 'other-0' }, bearer(third)))).toEqual({ code: status.OK });
  });

  test('calls without a valid key are UNAUTHENTICATED however many there are (refused before the limit is counted)', async () => {
    const bad = bearer(generateApiKey());
    const results = await Promise.all(Array.from({ length: 20 }, () => outcome(svc.users.getUser({ uid: 'other-0' }, bad))));
    expect(new Set(results.map((r) => `${r.code} ${r.reason}`))).toEqual(new Set([`${status.UNAUTHENTICATED} AUTH_ERR_APIKEY_NOT_FOUND`]));
  });
});

test('without keys (loopback only), every caller shares one bucket', async () => {
  const svc = await startTestService({ RATE_LIMIT_PER_KEY: '3' });
  try {
    const results = await Promise.all(Array.from({ length: 4 }, () => outcome(svc.users.getUser({ uid: 'nobody' }))));
    // NOT_FOUND: admitted (the user does not exist); the 4th was refused before any lookup.
    expect(results.filter((r) => r.code === status.NOT_FOUND)).toHaveLength(3);
    const refused = results.filter((r) => r.code !== status.NOT_FOUND);
    expect(refused).toHaveLength(1);
    expect(refused[0]).toMatchObject(TOO_MANY);
    expect(refused[0]!.retryDelayMs).toBeGreaterThan(0);
    expect(refused[0]!.retryDelayMs).toBeLessThanOrEqual(334);
  } finally {
    await svc.stop();
  }
});

describe('per uid: UID_CREATE_LIMIT_PER_MINUTE=3', () => {
  let svc: TestService;

  beforeAll(async () => {
    svc = await startTestService({ UID_CREATE_LIMIT_PER_MINUTE: '3' });
    await svc.users.createUser({ uid: 'limited-a', name: 'A' });
    await svc.users.createUser({ uid: 'limited-b', name: 'B' });
  });
  afterAll(() => svc?.stop());

  test('3 CreateAuthToken for uid A pass, the 4th is RESOURCE_EXHAUSTED with RetryInfo of about 20 s; uid B is unaffected; nothing changed', async () => {
    const started = performance.now();
    const created = [];
    for (let i = 0; i < 3; i++) created.push(await svc.tokens.createAuthToken({ uid: 'limited-a', deviceId: `device-${i}` }));
    const fourth = await outcome(svc.tokens.createAuthToken({ uid: 'limited-a', deviceId: 'device-3' }));
    const elapsedMs = performance.now() - started;

    expect(fourth).toMatchObject(TOO_MANY);
    // 3 per minute: a token every 20 s. Less whatever refilled since the first create.
    expect(fourth.retryDelayMs).toBeLessThanOrEqual(20_000);
    expect(fourth.retryDelayMs).toBeGreaterThanOrEqual(20_000 - elapsedMs - 1);

    // The same uid in another case is the same uid (uids are lower-cased): still limited.
    expect(await outcome(svc.tokens.createAuthToken({ uid: 'LIMITED-A' }))).toMatchObject(TOO_MANY);

    // Another uid has its own bucket.
    for (let i = 0; i < 3; i++) expect(await outcome(svc.tokens.createAuthToken({ uid: 'limited-b' }))).toEqual({ code: status.OK });

    // The refused creates changed nothing: A has exactly the 3 tokens issued, nothing archived.
    const a = await svc.db.collection<{ _id: string; tokens: { id: string; deviceId: string }[] }>('users').findOne({ _id: 'limited-a' });
    expect(a!.tokens.map((t) => t.id).sort()).toEqual(created.map((c) => c.authToken!.tokenId).sort());
    expect(a!.tokens.map((t) => t.deviceId).sort()).toEqual(['device-0', 'device-1', 'device-2']);
    expect(await svc.db.collection('archived_tokens').countDocuments()).toBe(0);
  });

  test('the limit counts CreateAuthToken only: the other methods on the limited uid still work', async () => {
    expect(await outcome(svc.tokens.createAuthToken({ uid: 'limited-a' }))).toMatchObject(TOO_MANY);
    const list = await svc.tokens.listAuthTokens({ uid: 'limited-a' });
    expect(list.totalSize).toBe(3);
    const [token] = list.authTokens;
    await expect(svc.tokens.getAuthToken({ uid: 'limited-a', authToken: token!.tokenId })).resolves.toMatchObject({ tokenId: token!.tokenId });
    await expect(svc.users.getUser({ uid: 'limited-a' })).resolves.toMatchObject({ uid: 'limited-a' });
  });

  test('an invalid request is rejected before the limit (INVALID_ARGUMENT, not RESOURCE_EXHAUSTED) and consumes nothing', async () => {
    await svc.users.createUser({ uid: 'limited-c', name: 'C' });
    for (let i = 0; i < 5; i++) {
      expect(await outcome(svc.tokens.createAuthToken({ uid: 'limited-c', platform: 'p'.repeat(256) }))).toMatchObject({
        code: status.INVALID_ARGUMENT,
        reason: 'ERR_BAD_REQUEST',
      });
    }
    for (let i = 0; i < 3; i++) expect(await outcome(svc.tokens.createAuthToken({ uid: 'limited-c' }))).toEqual({ code: status.OK });
    expect(await outcome(svc.tokens.createAuthToken({ uid: 'limited-c' }))).toMatchObject(TOO_MANY);
  });
});

describe('per uid, across replicas: the bucket is kept with the user', () => {
  let first: TestService;
  let second: TestService;

  beforeAll(async () => {
    first = await startTestService({ UID_CREATE_LIMIT_PER_MINUTE: '30' });
    second = await startTestService({ UID_CREATE_LIMIT_PER_MINUTE: '30' }, { dbName: first.dbName });
    await first.users.createUser({ uid: 'shared-limit', name: 'Shared' });
  });
  afterAll(async () => {
    await second?.stop().catch(() => undefined);
    await first?.stop();
  });

  test('30 creates in a minute spread over 2 replicas pass; the 31st is refused on either, and changes nothing', async () => {
    const replicas = [first, second];
    for (let i = 0; i < 30; i++) {
      expect(await outcome(replicas[i % 2]!.tokens.createAuthToken({ uid: 'shared-limit' })), `create ${i + 1}`).toEqual({ code: status.OK });
    }
    const before = await first.tokens.listAuthTokens({ uid: 'shared-limit' });
    for (const replica of replicas) expect(await outcome(replica.tokens.createAuthToken({ uid: 'shared-limit' }))).toMatchObject(TOO_MANY);
    const after = await first.tokens.listAuthTokens({ uid: 'shared-limit' });
    expect(after.authTokens.map((t) => t.tokenId)).toEqual(before.authTokens.map((t) => t.tokenId));
    expect(after.totalSize).toBe(30);
  });

  test('an unknown uid is NOT_FOUND, not limited', async () => {
    expect(await outcome(first.tokens.createAuthToken({ uid: 'no-such-user' }))).toMatchObject({ code: status.NOT_FOUND, reason: 'ERR_UID_NOT_FOUND' });
  });
});
