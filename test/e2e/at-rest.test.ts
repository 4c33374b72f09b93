// Secrets at rest: no token secret and no API key -- whole, its part after the last "_", or its
// random part (and, with API keys in use, any 12-character piece of it) -- appears in any document
// of any collection, in any index, or in the replication oplog, whether read as (canonical extended)
// JSON or as raw BSON bytes. What an active token is stored as is the SHA-256 of its secret; an
// archived token keeps neither the secret nor its hash.
//
// Two services, each with its own database, are exercised before the search:
// - with API keys: users and tokens are created (by the login backend's auth_only key), validated
//   (by the gateway's validate key), evicted, replaced, updated, deleted, flushed and deleted with
//   their user (by the operator's full key), and refused calls carry secrets and keys;
// - without API keys: the same kinds of calls, and failed calls that carry secrets, after which the
//   stored hashes of the active tokens are checked one by one.
import { createHash } from 'node:crypto';
import { status } from '@grpc/grpc-js';
import { BSON, type Document, type MongoClient, type Timestamp } from 'mongodb';
import { afterAll, beforeAll, expect, test } from 'vitest';
import type { CreateAuthTokenResponse } from '../../gen/authtoken/v1/auth_token_service';
import { generateApiKey, keyEntry } from '../../src/domain/api-keys';
import { startTestService, type TestService } from '../support/service';
import { bearer, grpcError } from '../support/grpc-status';
import { issue } from './helpers';

// ---------------------------------------------------------------------------------------------
// What must never be stored, and the search for it.

/** A secret to search for, and how a failure names it. */
interface Secret {
  what: string;
  value: string;
}

const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest();

/** The random part of a token (30 base62 after the uid) or of a key (40 base62 after "cak_"). */
function randomPart(secret: string): string {
  return secret.startsWith('cak_') ? secret.slice(4) : secret.slice(secret.lastIndexOf('_') + 1, -6);
}

/** The secret whole, its part after the last "_", and its random part. */
function wholeForms(secret: string): string[] {
  return [secret, secret.slice(secret.lastIndexOf('_') + 1), randomPart(secret)];
}

/** Every form that must never be stored: the whole forms, and every 12-character window of the random part. */
function forbiddenForms(secret: string): string[] {
  const random = randomPart(secret);
  const forms = new Set(wholeForms(secret));
  for (let i = 0; i + 12 <= random.length; i++) forms.add(random.slice(i, i + 12));
  return [...forms];
}

/** Asserts that neither the JSON nor the BSON of `docs` holds any of the `forms` of any of the `secrets`. */
function expectNoneIn(where: string, docs: Document[], secrets: Secret[], forms: (secret: string) => string[]) {
  const json = docs.map((doc) => BSON.EJSON.stringify(doc, { relaxed: false })).join('\n');
  const bson = Buffer.concat(docs.map((doc) => Buffer.from(BSON.serialize(doc))));
  for (const { what, value } of secrets) {
    for (const form of forms(value)) {
      expect(json.includes(form), `${what} (${form}) in the JSON of ${where}`).toBe(false);
      expect(bson.includes(Buffer.from(form, 'utf8')), `${what} (${form}) in the BSON of ${where}`).toBe(false);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// With API keys: the service as the login backend, the gateway and the operator use it.

const KEYS = {
  ops: generateApiKey(),
  login: generateApiKey(),
  gateway: generateApiKey(),
  /** Configured, never used: it must not be stored either. */
  spare: generateApiKey(),
};
/** Never configured: sent by a caller anyway. */
const UNKNOWN_KEY = generateApiKey();

let keyed: TestService;
let client: MongoClient;
/** Oplog time when setup began: everything after it is this file's (or another file's) doing. */
let startedAt: Timestamp;
/** Every secret the keyed service issued during setup. */
const keyedSecrets: string[] = [];

const ops = () => bearer(KEYS.ops);
const login = () => bearer(KEYS.login);
const gateway = () => bearer(KEYS.gateway);

/** Issues a token with the login backend's key, recording its secret. */
async function issueByLogin(uid: string, request: { deviceId?: string; platform?: string; userAgent?: string } = {}) {
  const response = await keyed.tokens.createAuthToken({ uid, ...request }, login());
  keyedSecrets.push(response.authToken!.authToken);
  return response;
}

/** The login backend: users with a first token, then more tokens than the cap, and a replacement. */
async function loginBackendIssues(): Promise<{ a: CreateAuthTokenResponse; b: CreateAuthTokenResponse }> {
  const main = await keyed.users.createUser({ uid: 'ar-main', name: 'Main', metadata: { plan: 'pro' }, withAuthToken: true }, login());
  keyedSecrets.push(main.authToken!.authToken);
  const phone = await issueByLogin('ar-main', { deviceId: 'phone', platform: 'ios' });
  const replacement = await issueByLogin('ar-main', { deviceId: 'phone', platform: 'ios', userAgent: 'App/2' });
  expect(replacement.replacedTokenIds).toEqual([phone.authToken!.tokenId]);
  const a = await issueByLogin('ar-main');
  const b = await issueByLogin('ar-main');
  expect(a.evictedTokenIds).toEqual([]);
  expect(b.evictedTokenIds).toEqual([main.authToken!.tokenId]);
  return { a, b };
}

/** The operator: reads, updates by secret, deletes by secret, flushes, deletes a user. */
async function operatorActs(a: CreateAuthTokenResponse, b: CreateAuthTokenResponse) {
  await keyed.tokens.getAuthToken({ uid: 'ar-main', authToken: a.authToken!.authToken }, ops());
  await keyed.tokens.updateAuthToken({ uid: 'ar-main', authToken: a.authToken!.authToken, platform: 'android' }, ops());
  await keyed.tokens.deleteAuthToken({ uid: 'ar-main', authToken: b.authToken!.authToken }, ops());
  await keyed.tokens.listAuthTokens({ uid: 'ar-main' }, ops());
  await keyed.tokens.listArchivedAuthTokens({ uid: 'ar-main' }, ops());

  await keyed.users.createUser({ uid: 'ar-flush', name: 'Flush' }, login());
  await issueByLogin('ar-flush');
  await issueByLogin('ar-flush', { deviceId: 'd' });
  expect(await keyed.tokens.flushAuthTokens({ uid: 'ar-flush' }, ops())).toEqual({ deletedCount: 2 });
  await issueByLogin('ar-flush');

  const gone = await keyed.users.createUser({ uid: 'ar-gone', name: 'Gone', withAuthToken: true }, login());
  keyedSecrets.push(gone.authToken!.authToken);
  await issueByLogin('ar-gone');
  expect(await keyed.users.deleteUser({ uid: 'ar-gone' }, ops())).toEqual({ archivedTokenCount: 2 });
}

/** Refused calls that carried secrets and keys: wrong scope, unknown key, invalid field. */
async function refusedCallsCarrySecrets(a: CreateAuthTokenResponse) {
  const wrongScope = await grpcError(keyed.tokens.deleteAuthToken({ uid: 'ar-main', authToken: a.authToken!.authToken }, gateway()));
  expect(wrongScope.code).toBe(status.PERMISSION_DENIED);
  const unknown = await grpcError(keyed.tokens.validateAuthToken({ authToken: a.authToken!.authToken }, bearer(UNKNOWN_KEY)));
  expect(unknown.code).toBe(status.UNAUTHENTICATED);
  const invalid = await grpcError(
    keyed.tokens.createAuthToken({ uid: 'ar-main', platform: `${a.authToken!.authToken} ${KEYS.ops}`.repeat(5) }, login()),
  );
  expect(invalid.code).toBe(status.INVALID_ARGUMENT);
  // A secret sent where a uid goes (lower-cased, it has the syntax of a uid: not found), and a key sent as a token.
  expect(await grpcError(keyed.tokens.listAuthTokens({ uid: a.authToken!.authToken }, ops()))).toMatchObject({
    code: status.NOT_FOUND,
    reason: 'ERR_UID_NOT_FOUND',
  });
  expect((await grpcError(keyed.tokens.validateAuthToken({ authToken: KEYS.ops }, gateway()))).code).toBe(status.INVALID_ARGUMENT);
}

beforeAll(async () => {
  keyed = await startTestService({
    MAX_TOKENS_PER_USER: '3',
    API_KEYS: [
      keyEntry('ops', 'full', KEYS.ops),
      keyEntry('login', 'auth_only', KEYS.login),
      keyEntry('gateway', 'validate', KEYS.gateway),
      keyEntry('spare', 'full', KEYS.spare),
    ].join(','),
  });
  client = keyed.db.client;
  const hello = await client.db('admin').command({ hello: 1 });
  startedAt = hello.lastWrite.opTime.ts as Timestamp;

  const { a, b } = await loginBackendIssues();
  // The gateway validates (recording last use and device information).
  await keyed.tokens.validateAuthToken({ authToken: a.authToken!.authToken, deviceId: 'tablet', userAgent: 'UA/1', appInfo: { v: 1 } }, gateway());
  await keyed.tokens.validateAuthToken({ authToken: b.authToken!.authToken }, gateway());
  await operatorActs(a, b);
  await refusedCallsCarrySecrets(a);

  expect(keyedSecrets).toHaveLength(10);
  expect(new Set(keyedSecrets).size).toBe(10);
});

function everySecret(): Secret[] {
  return [
    ...keyedSecrets.map((value, i) => ({ what: `token secret #${i}`, value })),
    ...Object.entries(KEYS).map(([name, value]) => ({ what: `API key ${name}`, value })),
    { what: 'unknown API key', value: UNKNOWN_KEY },
  ];
}

/** Asserts that neither the JSON nor the BSON of `docs` holds any form of any secret or key of the keyed service. */
function expectNothingSecretIn(where: string, docs: Document[]) {
  expectNoneIn(where, docs, everySecret(), forbiddenForms);
}

test('the secrets are what they should be (so the search below looks for the right strings)', () => {
  for (const secret of keyedSecrets) {
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
  const piece = randomPart(keyedSecrets[3]!).slice(7, 19);
  expect(() => expectNothingSecretIn('a planted document', [{ nested: { note: `x${piece}y` } }])).toThrow(/token secret #3/);
  const keyPiece = Buffer.from(randomPart(KEYS.spare).slice(20, 32), 'utf8');
  expect(() => expectNothingSecretIn('a planted binary', [{ blob: new BSON.Binary(Buffer.concat([Buffer.from([0, 1]), keyPiece])) }])).toThrow(
    /API key spare .* in the BSON of a planted binary/,
  );
});

test('no secret or key in any document of any collection of the service database', async () => {
  const collections = (await keyed.db.listCollections({}, { nameOnly: true }).toArray()).map((c) => c.name).sort();
  expect(collections).toEqual(['archived_tokens', 'users']);
  const all: Document[] = [];
  for (const name of collections) {
    const docs = await keyed.db.collection(name).find({}).toArray();
    expectNothingSecretIn(`collection ${name}`, docs);
    all.push(...docs);
  }
  // 2 users left (ar-main, ar-flush); 10 issued - 3 active (2 of ar-main, 1 of ar-flush) = 7 archived.
  expect(all.filter((d) => 'tokens' in d)).toHaveLength(2);
  expect(all.filter((d) => 'archiveTime' in d)).toHaveLength(7);
  // The stored form of an active token is its SHA-256, found as raw bytes (the search does see binaries).
  const users = Buffer.concat(all.filter((d) => 'tokens' in d).map((d) => Buffer.from(BSON.serialize(d))));
  const activeHashes = keyedSecrets.filter((s) => users.includes(sha256(s)));
  expect(activeHashes).toHaveLength(3);
});

test('no secret or key in the index definitions, nor anywhere in the config and admin databases', async () => {
  for (const name of ['users', 'archived_tokens']) {
    expectNothingSecretIn(`indexes of ${name}`, await keyed.db.collection(name).listIndexes().toArray());
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
  const ours = new RegExp(`^${keyed.dbName}\\.`);
  const entries = await oplog.find({ $or: [{ ns: ours }, { 'o.applyOps.ns': ours }] }).toArray();
  // User inserts, the updates that issue and revoke tokens (pending archive entries included), archive inserts.
  expect(entries.length).toBeGreaterThan(15);
  expectNothingSecretIn(`oplog entries of ${keyed.dbName}`, entries);
  // The search sees what is there: the hash of a token issued during setup was replicated.
  const serialized = Buffer.concat(entries.map((e) => Buffer.from(BSON.serialize(e))));
  expect(serialized.includes(sha256(keyedSecrets[0]!))).toBe(true);

  // Every namespace since setup began (other test files' databases included: none holds these secrets).
  const since = await oplog.find({ ts: { $gte: startedAt } }).toArray();
  expect(since.length).toBeGreaterThanOrEqual(entries.length);
  expectNothingSecretIn('the oplog since setup began', since);
});

// ---------------------------------------------------------------------------------------------
// Without API keys: every kind of call, then the stored hashes of the active tokens one by one.

let keyless: TestService;
/** Every secret the keyless service issued during setup. */
const keylessSecrets: string[] = [];
/** Secrets of the tokens still active at the end of setup, by uid. */
const active: { uid: string; secret: string; tokenId: string }[] = [];

beforeAll(async () => {
  keyless = await startTestService({ MAX_TOKENS_PER_USER: '3' });

  const track = <T extends { secret: string }>(issued: T): T => {
    keylessSecrets.push(issued.secret);
    return issued;
  };
  const issueTracked = async (uid: string, request: Parameters<typeof issue>[2] = {}) => track(await issue(keyless, uid, request));

  // A user whose first token came with CreateUser, then more tokens than the cap (evictions),
  // a replacement, a deletion, an update and validations that record device information.
  const created = await keyless.users.createUser({ uid: 'sr-main', name: 'Main', metadata: { k: 'v' }, withAuthToken: true });
  track({ secret: created.authToken!.authToken });
  const phone = await issueTracked('sr-main', { deviceId: 'phone', platform: 'ios', appInfo: { build: 1 } });
  const replacement = await issueTracked('sr-main', { deviceId: 'phone', platform: 'ios', userAgent: 'App/2' });
  expect(replacement.replaced).toEqual([phone.tokenId]);
  const more = [await issueTracked('sr-main'), await issueTracked('sr-main'), await issueTracked('sr-main')];
  expect(more.flatMap((t) => t.evicted)).toHaveLength(2);
  await keyless.tokens.deleteAuthToken({ uid: 'sr-main', authToken: more[0]!.secret });
  await keyless.tokens.updateAuthToken({ uid: 'sr-main', authToken: more[1]!.secret, platform: 'android' });
  await keyless.tokens.validateAuthToken({ authToken: more[1]!.secret, deviceId: 'tablet', userAgent: 'UA', appInfo: { x: 1 } });
  await keyless.tokens.validateAuthToken({ authToken: more[2]!.secret });
  await keyless.tokens.getAuthToken({ uid: 'sr-main', authToken: more[2]!.secret });
  active.push({ uid: 'sr-main', ...more[1]! }, { uid: 'sr-main', ...more[2]! });

  // A user whose tokens were flushed, then got a fresh one.
  await keyless.users.createUser({ uid: 'sr-flushed', name: 'Flushed' });
  await issueTracked('sr-flushed');
  await issueTracked('sr-flushed', { deviceId: 'd' });
  expect(await keyless.tokens.flushAuthTokens({ uid: 'sr-flushed' })).toEqual({ deletedCount: 2 });
  const fresh = await issueTracked('sr-flushed');
  active.push({ uid: 'sr-flushed', ...fresh });

  // A user deleted with its tokens.
  const doomed = await keyless.users.createUser({ uid: 'sr-deleted', name: 'Deleted', withAuthToken: true });
  track({ secret: doomed.authToken!.authToken });
  await issueTracked('sr-deleted');
  expect(await keyless.users.deleteUser({ uid: 'sr-deleted' })).toEqual({ archivedTokenCount: 2 });

  // Failed calls that carried secrets must not leave them anywhere either.
  await expect(keyless.tokens.createAuthToken({ uid: 'sr-main', platform: more[2]!.secret.repeat(10) })).rejects.toThrow();
  await expect(keyless.tokens.deleteAuthToken({ uid: 'sr-flushed', authToken: more[2]!.secret })).rejects.toThrow();

  expect(keylessSecrets).toHaveLength(11);
  expect(new Set(keylessSecrets).size).toBe(11);
  for (const s of keylessSecrets) expect(s).toMatch(/^cat_[a-z0-9_-]+_[0-9A-Za-z]{36}$/);
});

afterAll(async () => {
  await keyless?.stop();
  await keyed?.stop();
});

/** The users collection as read raw, without the service's promoteBuffers. */
interface RawUser {
  _id: string;
  tokens: { id: string; hash: BSON.Binary }[];
}

async function everyDocument(): Promise<{ collection: string; doc: Document }[]> {
  const out: { collection: string; doc: Document }[] = [];
  for (const { name } of await keyless.db.listCollections({}, { nameOnly: true }).toArray()) {
    for (const doc of await keyless.db.collection(name).find({}).toArray()) out.push({ collection: name, doc });
  }
  return out;
}

/** Asserts that neither the JSON nor the BSON of `doc` holds a keyless secret whole, its part after the last "_", or its random part. */
function expectNoSecretIn(where: string, doc: Document) {
  expectNoneIn(where, [doc], keylessSecrets.map((value, i) => ({ what: `token secret #${i}`, value })), wholeForms);
}

test('no issued secret, nor its secret part, is stored in any document of any collection', async () => {
  const documents = await everyDocument();
  const collections = new Set(documents.map((d) => d.collection));
  expect(collections).toEqual(new Set(['users', 'archived_tokens']));
  // 2 live users; 11 issued - 3 active = 8 archived tokens.
  expect(documents.filter((d) => d.collection === 'users')).toHaveLength(2);
  expect(documents.filter((d) => d.collection === 'archived_tokens')).toHaveLength(8);

  for (const { collection, doc } of documents) expectNoSecretIn(`${collection} ${String(doc._id)}`, doc);
});

test('what the users collection stores for each active token is the SHA-256 of the secret', async () => {
  const users = await keyless.db.collection<RawUser>('users').find({}).toArray();
  const storedHashes = users.flatMap((u) => u.tokens.map((t) => ({ uid: u._id, ...t })));
  expect(storedHashes).toHaveLength(active.length);

  for (const { uid, secret, tokenId } of active) {
    const stored = storedHashes.find((t) => t.id === tokenId);
    expect(stored, tokenId).toBeDefined();
    expect(stored!.uid).toBe(uid);
    expect(Buffer.from(stored!.hash.buffer).equals(sha256(secret))).toBe(true);
    // And the raw bytes of the hash are in the serialized user document.
    const userDoc = users.find((u) => u._id === uid)!;
    expect(Buffer.from(BSON.serialize(userDoc)).includes(sha256(secret))).toBe(true);
  }
});

test('archived tokens keep neither the secret nor its hash', async () => {
  const archived = await keyless.db.collection('archived_tokens').find({}).toArray();
  const archivedSecrets = keylessSecrets.filter((s) => !active.some((a) => a.secret === s));
  expect(archivedSecrets).toHaveLength(archived.length);
  const serialized = Buffer.concat(archived.map((doc) => Buffer.from(BSON.serialize(doc))));
  for (const secret of archivedSecrets) expect(serialized.includes(sha256(secret))).toBe(false);
});

test('the replication oplog never carried a secret to the database', async () => {
  const oplog = keyless.db.client.db('local').collection('oplog.rs');
  const ours = new RegExp(`^${keyless.dbName}\\.`);
  const entries = await oplog.find({ $or: [{ ns: ours }, { 'o.applyOps.ns': ours }] }).toArray();
  // Inserts of the users, the updates that issue and revoke tokens, and archive inserts are all in there.
  expect(entries.length).toBeGreaterThan(10);
  const serialized = Buffer.concat(entries.map((e) => Buffer.from(BSON.serialize(e))));
  expect(serialized.includes(sha256(active[0]!.secret))).toBe(true);
  for (const secret of keylessSecrets) {
    for (const form of wholeForms(secret)) expect(serialized.includes(Buffer.from(form, 'utf8')), form).toBe(false);
  }
});
