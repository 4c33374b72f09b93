// The validation cache across replicas: two service replicas (A and B) on one database, each with
// its own cache fed by its own change stream. Whatever revokes a token (the other replica, this
// one, or someone writing to the database by hand) must make every replica refuse it: the replica
// that revoked it on its very next call, any other as soon as its change stream has delivered the
// revocation (no expiry, no TTL). Whether a call was served from memory is read from the
// replica's own metrics (hit, miss, bypass).
//
// The file runs its own mongod: the stalled-feed test sets a failCommand fail point, which is
// global to a mongod and would clash with other test files' fail points.
import { randomUUID } from 'node:crypto';
import { MongoClient } from 'mongodb';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { ErrorReason } from '../../src/domain/errors';
import { scrapeMetrics } from '../support/metrics';
import { pollUntil } from '../support/poll';
import { startTestService, type TestService } from '../support/service';
import { grpcError } from '../support/grpc-status';
import { createUser, issue, issueMany } from './helpers';
import { failCommands } from '../support/fail-points';
import { startTestMongod, type TestMongod } from '../support/mongod';

const CAP = 3;
/** How many times each revocation is tried: once could be luck. */
const ROUNDS = 5;
const B_APP_NAME = `cache-replica-b-${randomUUID().slice(0, 8)}`;

let mongod: TestMongod;
/** This file's own connection to its mongod, for writes by hand and fail points. */
let mongo: MongoClient;
let a: TestService;
let b: TestService;

beforeAll(async () => {
  mongod = await startTestMongod({ name: 'cache', testCommands: true });
  const env = { MAX_TOKENS_PER_USER: String(CAP), MONGODB_URI: mongod.uri };
  a = await startTestService(env);
  // B's connections carry their own appName, so a fail point can stall B's change stream alone.
  b = await startTestService({ ...env, MONGODB_URI: `${mongod.uri}&appName=${B_APP_NAME}` }, { dbName: a.dbName });
  mongo = await MongoClient.connect(mongod.uri);
});

afterAll(async () => {
  await mongo?.close();
  await b?.stop();
  await a?.stop();
  await mongod?.destroy();
});

function usersByHand() {
  return mongo.db(a.dbName).collection<{ _id: string; tokens: { id: string }[]; feedProbe?: number }>('users');
}

type LookupResult = 'hit' | 'miss' | 'bypass';

async function lookupCounts(svc: TestService): Promise<Record<LookupResult, number>> {
  const scrape = await scrapeMetrics(svc.metricsPort);
  const count = (result: LookupResult) => scrape.sum('authtoken_validation_cache_lookups_total', { result });
  return { hit: count('hit'), miss: count('miss'), bypass: count('bypass') };
}

/** Validates on `svc` and tells how its cache answered (calls in this file never overlap). */
async function validate(svc: TestService, secret: string) {
  const before = await lookupCounts(svc);
  const outcome = await svc.tokens.validateAuthToken({ authToken: secret }).then(
    (response) => ({ ok: true as const, response }),
    (error: unknown) => ({ ok: false as const, error }),
  );
  const after = await lookupCounts(svc);
  const lookup = (['hit', 'miss', 'bypass'] as const).find((r) => after[r] > before[r]);
  return { ...outcome, lookup };
}

/** Validates until `svc` answers from memory (its feed may still be starting), and returns that answer. */
async function servedFromMemory(svc: TestService, secret: string) {
  const { result } = await pollUntil('a validation served from the cache', () => validate(svc, secret), (r) => r.lookup === 'hit', {
    timeoutMs: 15_000 });
  expect(result.ok).toBe(true);
  return result;
}

/** A token issued through A for `uid`, once `svc` answers its validation from memory. */
async function tokenHeldBy(svc: TestService, uid: string, request: { deviceId?: string } = {}) {
  const token = await issue(a, uid, request);
  await servedFromMemory(svc, token.secret);
  return token;
}

/**
 * How a test knows that B's change stream has delivered everything committed so far, without
 * looking inside B: a user of its own whose token B holds in memory. Changes arrive in commit
 * order, so once a later hand-written change to the sentinel has evicted it from B's cache, every
 * earlier change has reached B too. (A revocation returns once the revoking replica's own stream
 * has it; another replica's stream gets it at about the same moment, but not at exactly the same
 * one: this is the only thing waited for.)
 */
async function sentinelHeldBy(svc: TestService, uid: string) {
  const sentinelUid = `${uid}-sentinel`;
  await createUser(a, sentinelUid);
  const token = await tokenHeldBy(svc, sentinelUid);
  return {
    async delivered() {
      await usersByHand().updateOne({ _id: sentinelUid }, { $inc: { feedProbe: 1 } });
      await pollUntil(`the sentinel change to reach the cache`, () => validate(svc, token.secret), (r) => r.lookup === 'miss', {
        timeoutMs: 15_000 });
    },
  };
}

async function expectRefused(svc: TestService, secret: string) {
  const error = await grpcError(svc.tokens.validateAuthToken({ authToken: secret }));
  expect(error.code).toBe(5); // NOT_FOUND
  expect(error.reason).toBe(ErrorReason.AUTH_TOKEN_NOT_FOUND);
}

test('a repeated validation is served from memory, with the same answer the database gave', async () => {
  await createUser(a, 'repeat');
  const token = await issue(a, 'repeat');
  const first = await validate(b, token.secret);
  const fromMemory = await servedFromMemory(b, token.secret);
  expect(first.ok && fromMemory.ok && fromMemory.response).toEqual(first.ok && first.response);
});

/** Each way a token stops being active, applied to a token B holds in memory; returns its secret. */
const revocations: { name: string; revoke: (uid: string, round: number) => Promise<string> }[] = [
  {
    name: 'DeleteAuthToken on replica A',
    async revoke(uid) {
      const token = await tokenHeldBy(b, uid);
      await a.tokens.deleteAuthToken({ uid, authToken: token.secret });
      return token.secret;
    },
  },
  {
    name: 'FlushAuthTokens on replica A',
    async revoke(uid) {
      const token = await tokenHeldBy(b, uid);
      await a.tokens.flushAuthTokens({ uid });
      return token.secret;
    },
  },
  {
    name: `eviction by the ${CAP + 1}th CreateAuthToken on replica A`,
    async revoke(uid) {
      const oldest = await tokenHeldBy(b, uid);
      await issueMany(a, uid, CAP - 1);
      expect((await issue(a, uid)).evicted).toEqual([oldest.tokenId]);
      return oldest.secret;
    },
  },
  {
    name: 'replacement by a CreateAuthToken for the same device on replica A',
    async revoke(uid, round) {
      const deviceId = `device-${round}`;
      const old = await tokenHeldBy(b, uid, { deviceId });
      expect((await issue(a, uid, { deviceId })).replaced).toEqual([old.tokenId]);
      return old.secret;
    },
  },
  {
    name: 'DeleteUser on replica A',
    async revoke(uid) {
      const token = await tokenHeldBy(b, uid);
      await a.users.deleteUser({ uid });
      return token.secret;
    },
  },
  {
    name: 'a hand-written $pull in the database',
    async revoke(uid) {
      const token = await tokenHeldBy(b, uid);
      await usersByHand().updateOne(
        { _id: uid },
        { $pull: { tokens: { id: token.tokenId } } },
      );
      return token.secret;
    },
  },
];

describe('a token revoked anywhere is refused by a replica that held it in memory, as soon as its change stream has the revocation', () => {
  test.each(revocations)('$name', async ({ name, revoke }) => {
    for (let round = 0; round < ROUNDS; round++) {
      // Lower case: the service stores uids in lower case, and the sentinel is written by hand.
      const uid = `revoked-${name.toLowerCase().replace(/[^a-z]+/g, '-').slice(0, 40)}-${round}`;
      await createUser(a, uid);
      const sentinel = await sentinelHeldBy(b, uid);
      const secret = await revoke(uid, round);
      await sentinel.delivered();
      await expectRefused(b, secret);
      await expectRefused(a, secret);
    }
  });
});

test('the replica that revokes a token it holds in memory refuses it on the next call', async () => {
  for (let round = 0; round < ROUNDS; round++) {
    const uid = `self-revoked-${round}`;
    await createUser(a, uid);
    const token = await tokenHeldBy(a, uid);
    await a.tokens.deleteAuthToken({ uid, authToken: token.secret });
    await expectRefused(a, token.secret);
  }
});

test('UpdateAuthToken on one replica shows in the next validation on the other', async () => {
  await createUser(a, 'updated');
  const token = await tokenHeldBy(b, 'updated');
  const sentinel = await sentinelHeldBy(b, 'updated');
  await a.tokens.updateAuthToken({ uid: 'updated', authToken: token.secret, platform: 'ios' });
  await sentinel.delivered();
  const after = await validate(b, token.secret);
  expect(after.ok && after.response.authToken?.platform).toBe('ios');
});

test('while its change stream is stalled, a replica reads every validation from the database, then caches again once it is back', async () => {
  await createUser(a, 'stalled');
  const revoked = await tokenHeldBy(b, 'stalled');
  const kept = await tokenHeldBy(b, 'stalled');

  // Holds B's next change-stream getMore in mongod for a while: B hears nothing from its feed.
  const admin = mongo.db('admin');
  await (await failCommands(admin, { commands: ['getMore'], appName: B_APP_NAME, blockMs: 8_000 })).entered();
  await pollUntil('B to stop trusting its cache', () => validate(b, kept.secret), (r) => r.lookup === 'bypass', {
    timeoutMs: 5_000 });

  // The change B's feed cannot see yet: B must not answer from memory.
  await usersByHand().updateOne(
    { _id: 'stalled' },
    { $pull: { tokens: { id: revoked.tokenId } } },
  );
  await expectRefused(b, revoked.secret);

  // Once the getMore is released the feed speaks again, and B caches afresh.
  await servedFromMemory(b, kept.secret);
  await expectRefused(b, revoked.secret);
});

