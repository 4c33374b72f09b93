// Token expiry as the use cases apply it (src/domain/expiry.ts, expiry-sweep.ts), on the in-memory
// store and a clock the test moves: what CreateAuthToken accepts, when validation stops, and what
// the sweep archives.
import { expect, test } from 'vitest';
import { AuthTokens } from '../../src/domain/auth-tokens';
import { callDeadline } from '../../src/domain/deadline';
import { DomainError, ErrorReason } from '../../src/domain/errors';
import { ExpirySweep } from '../../src/domain/expiry-sweep';
import { NO_DEVICE } from '../../src/domain/auth-tokens';
import type { TokenActivity } from '../../src/domain/token-activity';
import { Users } from '../../src/domain/users';
import { InMemoryTokenStore } from '../support/in-memory-token-store';

const T0 = new Date('2026-06-01T12:00:00Z').getTime();
const HOUR = 3_600_000;
const soon = () => callDeadline(Infinity);

function service({ maxLifetimeMs, idleMs }: { maxLifetimeMs?: number; idleMs?: number } = {}) {
  let now = T0;
  const clock = () => new Date(now);
  const store = new InMemoryTokenStore(idleMs);
  const archived: [string, number][] = [];
  const events: TokenActivity = { issued() {}, validated() {}, archived: (reason, count) => void (count > 0 && archived.push([reason, count])) };
  const tokens = new AuthTokens(store, { maxTokensPerUser: 100, maxLifetimeMs, idleMs }, events, clock);
  const users = new Users(store, events, maxLifetimeMs, clock);
  return {
    tokens,
    users,
    store,
    archived,
    sweep: new ExpirySweep(store, events, clock),
    tick: (ms: number) => void (now += ms),
    create: (request: { ttl?: { seconds: number; nanos: number }; expireTime?: Date } = {}) =>
      tokens.create({ uid: 'alice', ...NO_DEVICE, force: false, ...request }, soon()),
    validate: (secret: string) => tokens.validate({ authToken: secret, ...NO_DEVICE }, soon()),
  };
}

async function withUser(options?: { maxLifetimeMs?: number; idleMs?: number }) {
  const s = service(options);
  await s.users.create({ uid: 'alice', name: 'Alice', metadata: undefined, withAuthToken: false }, soon());
  return s;
}

async function badFields(pending: Promise<unknown>): Promise<string[]> {
  const error = await pending.then(() => expect.fail('expected ERR_BAD_REQUEST'), (e: unknown) => e);
  expect(error).toBeInstanceOf(DomainError);
  expect((error as DomainError).reason).toBe(ErrorReason.BAD_REQUEST);
  return (error as DomainError).fieldViolations.map((v) => v.field).sort();
}

test('a token with a ttl validates until its expire_time, and from that instant on is refused', async () => {
  const s = await withUser();
  const { authToken, secret } = await s.create({ ttl: { seconds: 60, nanos: 500_000_000 } });
  expect(authToken.expireTime).toEqual(new Date(T0 + 60_500));
  s.tick(60_499);
  expect((await s.validate(secret)).authToken.tokenId).toBe(authToken.tokenId);
  s.tick(1);
  expect(((await s.validate(secret).catch((e: unknown) => e)) as DomainError).reason).toBe(ErrorReason.AUTH_TOKEN_NOT_FOUND);
});

test('expire_time is taken as given; neither: the token never expires', async () => {
  const s = await withUser();
  const at = new Date(T0 + HOUR);
  expect((await s.create({ expireTime: at })).authToken.expireTime).toEqual(at);
  expect((await s.create()).authToken.expireTime).toBeUndefined();
});

test('ttl and expire_time together, a ttl that is not positive, an expire_time not in the future: ERR_BAD_REQUEST naming them', async () => {
  const s = await withUser();
  expect(await badFields(s.create({ ttl: { seconds: 60, nanos: 0 }, expireTime: new Date(T0 + HOUR) }))).toEqual(['expire_time', 'ttl']);
  expect(await badFields(s.create({ ttl: { seconds: 0, nanos: 0 } }))).toEqual(['ttl']);
  expect(await badFields(s.create({ ttl: { seconds: -5, nanos: 0 } }))).toEqual(['ttl']);
  expect(await badFields(s.create({ expireTime: new Date(T0) }))).toEqual(['expire_time']);
  expect(await s.store.listTokens('alice', soon())).toEqual([]);
});

test('with a maximum lifetime, every token expires within it, and asking for more is refused', async () => {
  const s = await withUser({ maxLifetimeMs: HOUR });
  expect((await s.create()).authToken.expireTime).toEqual(new Date(T0 + HOUR));
  expect((await s.create({ ttl: { seconds: 60, nanos: 0 } })).authToken.expireTime).toEqual(new Date(T0 + 60_000));
  expect(await badFields(s.create({ ttl: { seconds: 3601, nanos: 0 } }))).toEqual(['ttl']);
  expect(await badFields(s.create({ expireTime: new Date(T0 + HOUR + 1) }))).toEqual(['expire_time']);
  // CreateUser's first token too.
  const { issued } = await s.users.create({ uid: 'bob', name: 'Bob', metadata: undefined, withAuthToken: true }, soon());
  expect(issued!.authToken.expireTime).toEqual(new Date(T0 + HOUR));
});

test('the sweep archives exactly the expired tokens as EXPIRED, and reports them', async () => {
  const s = await withUser();
  const short = await s.create({ ttl: { seconds: 10, nanos: 0 } });
  const long = await s.create({ ttl: { seconds: 100, nanos: 0 } });
  const never = await s.create();
  expect(await s.sweep.sweep()).toBe(0);
  s.tick(10_000);
  expect(await s.sweep.sweep()).toBe(1);
  expect((await s.store.listTokens('alice', soon())).map((t) => t.tokenId).sort()).toEqual([long.authToken.tokenId, never.authToken.tokenId].sort());
  const archived = await s.tokens.listArchived({ uid: 'alice', pageSize: 0, pageToken: '' }, soon());
  expect(archived.items.map((a) => [a.authToken.tokenId, a.reason])).toEqual([[short.authToken.tokenId, 'EXPIRED']]);
  expect(s.archived).toEqual([['EXPIRED', 1]]);
  expect(await s.sweep.sweep()).toBe(0);
});

test('idle timeout: a token validates while it is used at least once per timeout, and is refused, then archived EXPIRED, once it is not', async () => {
  const DAY = 24 * HOUR;
  const s = await withUser({ idleMs: DAY });
  const used = await s.create();
  const unused = await s.create();
  const refused = async (secret: string) => ((await s.validate(secret).catch((e: unknown) => e)) as DomainError).reason;
  s.tick(DAY - 1);
  expect((await s.validate(used.secret)).authToken.tokenId).toBe(used.authToken.tokenId); // its last use, from now on
  s.tick(2); // the second token was issued 1 ms after the first (issue times are strictly increasing)
  expect(await refused(unused.secret)).toBe(ErrorReason.AUTH_TOKEN_NOT_FOUND); // a day since its issue
  expect((await s.validate(used.secret)).authToken.tokenId).toBe(used.authToken.tokenId); // less than a day since its use
  expect(await s.sweep.sweep()).toBe(1);
  s.tick(DAY - 2);
  expect(await refused(used.secret)).toBe(ErrorReason.AUTH_TOKEN_NOT_FOUND);
  expect(await s.sweep.sweep()).toBe(1);
  expect(s.archived).toEqual([['EXPIRED', 1], ['EXPIRED', 1]]);
});
