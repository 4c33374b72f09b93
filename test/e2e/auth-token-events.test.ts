// WatchAuthTokenEvents end to end, over two replicas of the service on one database: an event
// reaches a watch on the other replica within 1 s of the call that caused it returning, for the
// issue and for each of the seven reasons a token is revoked; a uid filter; what a watch is told
// when its request is bad.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { status } from '@grpc/grpc-js';
import { ArchiveReason } from '../../gen/authtoken/v1/resources';
import { type AuthTokenEvent } from '../../gen/authtoken/v1/auth_token_service';
import { BOOKMARK, type EventWatch, ISSUED, OpenWatches, REVOKED } from '../support/event-watch';
import { grpcError } from '../support/grpc-status';
import { startTestService, type TestService } from '../support/service';
import { createUser, expectError, issue } from './helpers';

const DELIVERY_MS = 1_000;
const SWEEP_MS = 200;

let callee: TestService;
let watched: TestService;
const watches = new OpenWatches();
beforeAll(async () => {
  callee = await startTestService({ MAX_TOKENS_PER_USER: '2', EXPIRY_SWEEP_INTERVAL_MS: String(SWEEP_MS) });
  watched = await startTestService({ MAX_TOKENS_PER_USER: '2' }, { dbName: callee.dbName });
});
afterAll(async () => {
  watches.closeAll();
  await watched?.stop();
  await callee?.stop();
});

const watch = (svc: TestService, request: ConstructorParameters<typeof EventWatch>[1] = {}) => watches.open(svc, request);

/** Runs `call` on one replica; the matching event must reach the watch on the other within DELIVERY_MS of it returning. */
async function deliveredAfter<T>(w: EventWatch, call: () => Promise<T>, match: (e: AuthTokenEvent) => boolean): Promise<{ result: T; event: AuthTokenEvent }> {
  const from = w.arrived.length;
  const result = await call();
  const returned = performance.now();
  const arrived = await w.next(match, { from });
  expect(arrived.at - returned).toBeLessThanOrEqual(DELIVERY_MS);
  return { result, event: arrived.event };
}

const revoked = (tokenId: string) => (e: AuthTokenEvent) => e.type === REVOKED && e.tokenId === tokenId;

describe('delivered to a watch on the other replica within 1 s', () => {
  test('ISSUED, and REVOKED for each of the seven reasons, with who, which device, when and why', async () => {
    const w = watch(watched);
    const first = await w.live();
    expect(first.event).toMatchObject({ type: BOOKMARK, uid: '', tokenId: '' });
    expect(first.event.resumeToken).toMatch(/^82[0-9A-F]+$/);
    await createUser(callee, 'ev-seven');

    const issuedCall = await deliveredAfter(w, () => issue(callee, 'ev-seven', { deviceId: 'phone' }), (e) => e.type === ISSUED);
    const phone = issuedCall.result;
    expect(issuedCall.event).toMatchObject({ uid: 'ev-seven', tokenId: phone.tokenId, deviceId: 'phone', time: phone.token.createTime });

    // REPLACED: the same device again, without force.
    const { result: phone2, event: replaced } = await deliveredAfter(w, () => issue(callee, 'ev-seven', { deviceId: 'phone' }), revoked(phone.tokenId));
    expect(replaced).toMatchObject({ uid: 'ev-seven', deviceId: 'phone', reason: ArchiveReason.ARCHIVE_REASON_REPLACED });

    // EVICTED: the cap is 2.
    await issue(callee, 'ev-seven', { deviceId: 'tablet' });
    const { event: evicted } = await deliveredAfter(w, () => issue(callee, 'ev-seven', { deviceId: 'laptop' }), revoked(phone2.tokenId));
    expect(evicted.reason).toBe(ArchiveReason.ARCHIVE_REASON_EVICTED);

    const laptop = (await callee.tokens.listAuthTokens({ uid: 'ev-seven' })).authTokens.find((t) => t.deviceId === 'laptop')!;
    const { event: deleted } = await deliveredAfter(
      w,
      () => callee.tokens.deleteAuthToken({ uid: 'ev-seven', authToken: laptop.tokenId }),
      revoked(laptop.tokenId),
    );
    expect(deleted).toMatchObject({ deviceId: 'laptop', reason: ArchiveReason.ARCHIVE_REASON_DELETED });

    const [flushed] = (await callee.tokens.listAuthTokens({ uid: 'ev-seven' })).authTokens;
    const { event: flushEvent } = await deliveredAfter(w, () => callee.tokens.flushAuthTokens({ uid: 'ev-seven' }), revoked(flushed!.tokenId));
    expect(flushEvent.reason).toBe(ArchiveReason.ARCHIVE_REASON_FLUSHED);

    const leaked = await issue(callee, 'ev-seven');
    const { event: leakEvent } = await deliveredAfter(
      w,
      () => callee.tokens.revokeAuthTokens({ authTokens: [leaked.secret] }),
      revoked(leaked.tokenId),
    );
    expect(leakEvent.reason).toBe(ArchiveReason.ARCHIVE_REASON_LEAKED);

    // EXPIRED has no call behind it: the sweep archives it within its interval of the expire_time.
    const expiring = await issue(callee, 'ev-seven', { ttl: { seconds: 1, nanos: 0 } });
    const expiredEvent = await w.next(revoked(expiring.tokenId), { from: 0 });
    expect(expiredEvent.event.reason).toBe(ArchiveReason.ARCHIVE_REASON_EXPIRED);
    const expiredAt = performance.now() - (Date.now() - expiring.token.expireTime!.getTime());
    expect(expiredEvent.at - expiredAt).toBeLessThanOrEqual(SWEEP_MS + DELIVERY_MS);

    const last = await issue(callee, 'ev-seven', { deviceId: 'watch' });
    const { event: userDeleted } = await deliveredAfter(w, () => callee.users.deleteUser({ uid: 'ev-seven' }), revoked(last.tokenId));
    expect(userDeleted).toMatchObject({ deviceId: 'watch', reason: ArchiveReason.ARCHIVE_REASON_USER_DELETED });

    // Every event names a real position, each after the one before; no secret anywhere.
    const positions = w.arrived.map((a) => a.event.resumeToken);
    expect([...positions].sort()).toEqual(positions);
    expect(new Set(positions.filter((_, i) => w.arrived[i]!.event.type !== BOOKMARK)).size).toBe(w.changes.length);
    expect(JSON.stringify(w.arrived)).not.toContain('cat_');
  });
});

test('a watch of some uids gets their events only', async () => {
  await createUser(callee, 'ev-mine');
  await createUser(callee, 'ev-other');
  const w = watch(watched, { uids: ['EV-Mine'] });
  await w.live();
  await issue(callee, 'ev-other');
  const mine = await issue(callee, 'ev-mine');
  await callee.tokens.flushAuthTokens({ uid: 'ev-other' });
  await callee.tokens.flushAuthTokens({ uid: 'ev-mine' });
  await w.next(revoked(mine.tokenId));
  expect(w.changes.map((e) => [e.type, e.uid, e.tokenId])).toEqual([
    [ISSUED, 'ev-mine', mine.tokenId],
    [REVOKED, 'ev-mine', mine.tokenId],
  ]);
});

describe('a bad request is refused, naming the field', () => {
  test.each([
    ['a uid that breaks the syntax', { uids: ['ok', 'not ok'] }, ['uids[1]']],
    ['too many uids', { uids: Array.from({ length: 1001 }, (_, i) => `u${i}`) }, ['uids']],
    ['a resume_token that is not hex', { resumeToken: 'tid_abc' }, ['resume_token']],
    ['a resume_token that mongod cannot read', { resumeToken: '82' + '00000010' + '00000001' + 'FF' }, ['resume_token']],
  ])('%s', async (_, request, fields) => {
    const error = await watch(watched, request).end();
    expectError(await grpcError(Promise.reject(error)), status.INVALID_ARGUMENT, 'ERR_BAD_REQUEST', fields);
  });
});

test('a resume_token older than the oplog is FAILED_PRECONDITION ERR_RESUME_TOKEN_EXPIRED: revalidate, then watch anew', async () => {
  const w = watch(watched);
  const { event } = await w.live();
  // The same position, in 1970: long before anything the oplog holds.
  const ancient = '82' + '00000010' + '00000001' + event.resumeToken.slice(18);
  const error = await grpcError(Promise.reject(await watch(watched, { resumeToken: ancient }).end()));
  expectError(error, status.FAILED_PRECONDITION, 'ERR_RESUME_TOKEN_EXPIRED');
  expect(error.message).toMatch(/Revalidate every session/);
});
