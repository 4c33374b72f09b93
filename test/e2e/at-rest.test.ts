// Secrets at rest, with API keys in use: after users and tokens are created (by the login backend's
// auth_only key), validated (by the gateway's validate key), evicted, replaced, updated, deleted,
// flushed and deleted with their user (by the operator's full key), and after refused calls that
// carried secrets and keys, no token secret and no API key -- whole, or its random part, or any
// 12-character piece of it -- appears in any document of any collection, in any index, or in the
// replication oplog, whether read as (canonical extended) JSON or as raw BSON bytes.
import { createHash } from 'node:crypto';
import { status } from '@grpc/grpc-js';
import { BSON, type Document, type MongoClient, type Timestamp } from 'mongodb';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { generateApiKey, keyEntry } from '../../src/domain/api-keys';
import { startTestService, type TestService } from '../support/service';
import { bearer, grpcError } from '../support/grpc-status';

const KEYS = {
  ops: generateApiKey(),
  login: generateApiKey(),
  gateway: generateApiKey(),
  /** Configured, never used: it must not be stored either. */
  spare: generateApiKey(),
};
/** Never configured: sent by a caller anyway. */
const UNKNOWN_KEY = generateApiKey();

let svc: TestService;
let client: MongoClient;
/** Oplog time when setup began: everything after it is this file's (or another file's) doing. */
let startedAt: Timestamp;
const secrets: string[] = [];

const ops = () => bearer(KEYS.ops);
const login = () => bearer(KEYS.login);
const gateway = () => bearer(KEYS.gateway);

beforeAll(async () => {
  svc = await startTestService({
    MAX_TOKENS_PER_USER: '3',
    API_KEYS: [
      keyEntry('ops', 'full', KEYS.ops),
      keyEntry('login', 'auth_only', KEYS.login),
      keyEntry('gateway', 'validate', KEYS.gateway),
      keyEntry('spare', 'full', KEYS.spare),
    ].join(','),
  });
  client = svc.db.client;
  const hello = await client.db('admin').command({ hello: 1 });
  startedAt = hello.lastWrite.opTime.ts as Timestamp;

  const issue = async (uid: string, request: { deviceId?: string; platform?: string; userAgent?: string } = {}) => {
    const response = await svc.tokens.createAuthToken({ uid, ...request }, login());
    secrets.push(response.authToken!.authToken);
    return response;
  };

  // The login backend: users with a first token, then more tokens than the cap, and a replacement.
  const main = await svc.users.createUser({ uid: 'ar-main', name: 'Main', metadata: { plan: 'pro' }, withAuthToken: true }, login());
  secrets.push(main.authToken!.authToken);
  const phone = await issue('ar-main', { deviceId: 'phone', platform: 'ios' });
  const replacement = await issue('ar-main', { deviceId: 'phone', platform: 'ios', userAgent: 'App/2' });
  expect(replacement.replacedTokenIds).toEqual([phone.authToken!.tokenId]);
  const a = await issue('ar-main');
  const b = await issue('ar-main');
  expect(a.evictedTokenIds).toEqual([]);
  expect(b.evictedTokenIds).toEqual([main.authToken!.tokenId]);

  // The gateway validates (recording last use and device information).
  await svc.tokens.validateAuthToken({ authToken: a.authToken!.authToken, deviceId: 'tablet', userAgent: 'UA/1', appInfo: { v: 1 } }, gateway());
  await svc.tokens.validateAuthToken({ authToken: b.authToken!.authToken }, gateway());

  // The operator: reads, updates by secret, deletes by secret, flushes, deletes a user.
  await svc.tokens.getAuthToken({ uid: 'ar-main', authToken: a.authToken!.authToken }, ops());
  await svc.tokens.updateAuthToken({ uid: 'ar-main', authToken: a.authToken!.authToken, platform: 'android' }, ops());
  await svc.tokens.deleteAuthToken({ uid: 'ar-main', authToken: b.authToken!.authToken }, ops());
  await svc.tokens.listAuthTokens({ uid: 'ar-main' }, ops());
  await svc.tokens.listArchivedAuthTokens({ uid: 'ar-main' }, ops());

  await svc.users.createUser({ uid: 'ar-flush', name: 'Flush' }, login());
  await issue('ar-flush');
  await issue('ar-flush', { deviceId: 'd' });
  expect(await svc.tokens.flushAuthTokens({ uid: 'ar-flush' }, ops())).toEqual({ deletedCount: 2 });
  await issue('ar-flush');

  const gone = await svc.users.createUser({ uid: 'ar-gone', name: 'Gone', withAuthToken: true }, login());
  secrets.push(gone.authToken!.authToken);
  await issue('ar-gone');
  expect(await svc.users.deleteUser({ uid: 'ar-gone' }, ops())).toEqual({ archivedTokenCount: 2 });

  // Refused calls that carried secrets and keys: wrong scope, unknown key, invalid field.
  const wrongScope = await grpcError(svc.tokens.deleteAuthToken({ uid: 'ar-main', authToken: a.authToken!.authToken }, gateway()));
  expect(wrongScope.code).toBe(status.PERMISSION_DENIED);
  const unknown = await grpcError(svc.tokens.validateAuthToken({ authToken: a.authToken!.authToken }, bearer(UNKNOWN_KEY)));
  expect(unknown.code).toBe(status.UNAUTHENTICATED);
  const invalid = await grpcError(
    svc.tokens.createAuthToken({ uid: 'ar-main', platform: `${a.authToken!.authToken} ${KEYS.ops}`.repeat(5) }, login()),
  );
  expect(invalid.code).toBe(status.INVALID_ARGUMENT);
  // A secret sent where a uid goes (lower-cased, it has the syntax of a uid: not found), and a key sent as a token.
  expect(await grpcError(svc.tokens.listAuthTokens({ uid: a.authToken!.authToken }, ops()))).toMatchObject({
    code: status.NOT_FOUND,
    reason: 'ERR_UID_NOT_FOUND',
  });
  expect((await grpcError(svc.tokens.validateAuthToken({ authToken: KEYS.ops }, gateway()))).code).toBe(status.INVALID_ARGUMENT);

  expect(secrets).toHaveLength(10);
  expect(new Set(secrets).size).toBe(10);
});

afterAll(() => svc?.stop());

/** The random part of a token (30 base62 after the uid) or of a key (40 base62 after "cak_"). */
function randomPart(secret: string): string {
  return secret.startsWith('cak_') ? secret.slice(4) : secret.slice(secret.lastIndexOf('_') + 1, -6);
}

/** Every form that must never be stored: whole, the part after the last "_", the random part, and every 12-character window of it. */
function forbiddenForms(secret: string): string[] {
  const random = randomPart(secret);
  const forms = new Set([secret, secret.slice(secret.lastIndexOf('_') + 1), random]);
  for (let i = 0; i + 12 <= random.length; i++) forms.add(random.slice(i, i + 12));
  return [...forms];
}

function everySecret(): { what: string; value: string }[] {
  return [
    ...secrets.map((value, i) => ({ what: `token secret #${i}`, value })),
    ...Object.entries(KEYS).map(([name, value]) => ({ what: `API key ${name}`, value })),
    { what: 'unknown API key', value: UNKNOWN_KEY },
  ];
}

/** Asserts that neither the JSON nor the BSON of `docs` holds any form of any secret. */
function expectNothingSecretIn(where: string, docs: Document[]) {
  const json = docs.map((doc) => BSON.EJSON.stringify(doc, { relaxed: false })).join('\n');
  const bson = Buffer.concat(docs.map((doc) => Buffer.from(BSON.serialize(doc))));
  for (const { what, value } of everySecret()) {
    for (const form of forbiddenForms(value)) {
      expect(json.includes(form), `${what} (${form}) in the JSON of ${where}`).toBe(false);
      expect(bson.includes(Buffer.from(form, 'utf8')), `${what} (${form}) in the BSON of ${where}`).toBe(false);
    }
  }
}

const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest();

test('the secrets are what they should be (so the search below looks for the right strings)', () => {
  for (const secret of secrets) {
    expect(secret).toMatch(/^cat_ar-(main|flush|gone)_[0-9A-Za-z]{36}$/);
    expect(randomPart(secret)).toMatch(/^[0-9A-Za-z]{30}$/);
    expect(forbiddenForms(secret)).toHaveLength(3 + 19);
  }
  for (const key of [...Object.values(KEYS), UNKNOWN_KEY]) {
    expect(randomPart(key)).toMatch(/^[0-9A-Za-z]{40}$/);
    expect(forbiddenForms(key)).toHaveLength(2 + 29);
  }
});

test('the search finds what it looks for: a planted piece of a secret or key is caught, as text or inside a binary', () => {
  const piece = randomPart(secrets[3]!).slice(7, 19);
  expect(() => expectNothingSecretIn('a planted document', [{ nested: { note: `x${piece}y` } }])).toThrow(/token secret #3/);
  const keyPiece = Buffer.from(randomPart(KEYS.spare).slice(20, 32), 'utf8');
  expect(() => expectNothingSecretIn('a planted binary', [{ blob: new BSON.Binary(Buffer.concat([Buffer.from([0, 1]), keyPiece])) }])).toThrow(
    /API key spare .* in the BSON of a planted binary/,
  );
});

test('no secret or key in any document of any collection of the service database', async () => {
  const collections = (await svc.db.listCollections({}, { nameOnly: true }).toArray()).map((c) => c.name).sort();
  expect(collections).toEqual(['archived_tokens', 'users']);
  const all: Document[] = [];
  for (const name of collections) {
    const docs = await svc.db.collection(name).find({}).toArray();
    expectNothingSecretIn(`collection ${name}`, docs);
    all.push(...docs);
  }
  // 2 users left (ar-main, ar-flush); 10 issued - 3 active (2 of ar-main, 1 of ar-flush) = 7 archived.
  expect(all.filter((d) => 'tokens' in d)).toHaveLength(2);
  expect(all.filter((d) => 'archiveTime' in d)).toHaveLength(7);
  // The stored form of an active token is its SHA-256, found as raw bytes (the search does see binaries).
  const users = Buffer.concat(all.filter((d) => 'tokens' in d).map((d) => Buffer.from(BSON.serialize(d))));
  const activeHashes = secrets.filter((s) => users.includes(sha256(s)));
  expect(activeHashes).toHaveLength(3);
});

test('no secret or key in the index definitions, nor anywhere in the config and admin databases', async () => {
  for (const name of ['users', 'archived_tokens']) {
    expectNothingSecretIn(`indexes of ${name}`, await svc.db.collection(name).listIndexes().toArray());
  }
  for (const dbName of ['config', 'admin']) {
    const db = client.db(dbName);
    for (const { name } of await db.listCollections({}, { nameOnly: true }).toArray()) {
      expectNothingSecretIn(`${dbName}.${name}`, await db.collection(name).find({}).toArray());
    }
  }
});

test('no secret or key in the oplog: neither this database\'s entries nor anything written since setup began', async () => {
  const oplog = client.db('local').collection('oplog.rs');
  const ours = new RegExp(`^${svc.dbName}\\.`);
  const entries = await oplog.find({ $or: [{ ns: ours }, { 'o.applyOps.ns': ours }] }).toArray();
  // User inserts, token pushes and pulls, archive inserts (some inside transactions' applyOps).
  expect(entries.length).toBeGreaterThan(15);
  expectNothingSecretIn(`oplog entries of ${svc.dbName}`, entries);
  // The search sees what is there: the hash of a token issued during setup was replicated.
  const serialized = Buffer.concat(entries.map((e) => Buffer.from(BSON.serialize(e))));
  expect(serialized.includes(sha256(secrets[0]!))).toBe(true);

  // Every namespace since setup began (other test files' databases included: none holds these secrets).
  const since = await oplog.find({ ts: { $gte: startedAt } }).toArray();
  expect(since.length).toBeGreaterThanOrEqual(entries.length);
  expectNothingSecretIn('the oplog since setup began', since);
});
