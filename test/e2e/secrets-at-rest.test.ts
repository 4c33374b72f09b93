import { createHash } from 'node:crypto';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { BSON, type Document } from 'mongodb';
import { startTestService, type TestService } from '../support/service';
import { issue } from './helpers';

let svc: TestService;
/** Every secret the service issued during setup. */
const secrets: string[] = [];
/** Secrets of the tokens still active at the end of setup, by uid. */
const active: { uid: string; secret: string; tokenId: string }[] = [];

beforeAll(async () => {
  svc = await startTestService({ MAX_TOKENS_PER_USER: '3' });

  const track = <T extends { secret: string }>(issued: T): T => {
    secrets.push(issued.secret);
    return issued;
  };
  const issueTracked = async (uid: string, request: Parameters<typeof issue>[2] = {}) => track(await issue(svc, uid, request));

  // A user whose first token came with CreateUser, then more tokens than the cap (evictions),
  // a replacement, a deletion, an update and validations that record device information.
  const created = await svc.users.createUser({ uid: 'sr-main', name: 'Main', metadata: { k: 'v' }, withAuthToken: true });
  track({ secret: created.authToken!.authToken });
  const phone = await issueTracked('sr-main', { deviceId: 'phone', platform: 'ios', appInfo: { build: 1 } });
  const replacement = await issueTracked('sr-main', { deviceId: 'phone', platform: 'ios', userAgent: 'App/2' });
  expect(replacement.replaced).toEqual([phone.tokenId]);
  const more = [await issueTracked('sr-main'), await issueTracked('sr-main'), await issueTracked('sr-main')];
  expect(more.flatMap((t) => t.evicted)).toHaveLength(2);
  await svc.tokens.deleteAuthToken({ uid: 'sr-main', authToken: more[0]!.secret });
  await svc.tokens.updateAuthToken({ uid: 'sr-main', authToken: more[1]!.secret, platform: 'android' });
  await svc.tokens.validateAuthToken({ authToken: more[1]!.secret, deviceId: 'tablet', userAgent: 'UA', appInfo: { x: 1 } });
  await svc.tokens.validateAuthToken({ authToken: more[2]!.secret });
  await svc.tokens.getAuthToken({ uid: 'sr-main', authToken: more[2]!.secret });
  active.push({ uid: 'sr-main', ...more[1]! }, { uid: 'sr-main', ...more[2]! });

  // A user whose tokens were flushed, then got a fresh one.
  await svc.users.createUser({ uid: 'sr-flushed', name: 'Flushed' });
  await issueTracked('sr-flushed');
  await issueTracked('sr-flushed', { deviceId: 'd' });
  expect(await svc.tokens.flushAuthTokens({ uid: 'sr-flushed' })).toEqual({ deletedCount: 2 });
  const fresh = await issueTracked('sr-flushed');
  active.push({ uid: 'sr-flushed', ...fresh });

  // A user deleted with its tokens.
  const doomed = await svc.users.createUser({ uid: 'sr-deleted', name: 'Deleted', withAuthToken: true });
  track({ secret: doomed.authToken!.authToken });
  await issueTracked('sr-deleted');
  expect(await svc.users.deleteUser({ uid: 'sr-deleted' })).toEqual({ archivedTokenCount: 2 });

  // Failed calls that carried secrets must not leave them anywhere either.
  await expect(svc.tokens.createAuthToken({ uid: 'sr-main', platform: more[2]!.secret.repeat(10) })).rejects.toThrow();
  await expect(svc.tokens.deleteAuthToken({ uid: 'sr-flushed', authToken: more[2]!.secret })).rejects.toThrow();

  expect(secrets).toHaveLength(11);
  expect(new Set(secrets).size).toBe(11);
  for (const s of secrets) expect(s).toMatch(/^cat_[a-z0-9_-]+_[0-9A-Za-z]{36}$/);
});
afterAll(() => svc?.stop());

/** The strings that must never be stored: the token, its part after the last "_", and its random part alone. */
function forbiddenForms(secret: string): string[] {
  const tail = secret.slice(secret.lastIndexOf('_') + 1);
  return [secret, tail, tail.slice(0, 30)];
}

/** The users collection as read raw, without the service's promoteBuffers. */
interface RawUser {
  _id: string;
  tokens: { id: string; hash: BSON.Binary }[];
}

function sha256(secret: string): Buffer {
  return createHash('sha256').update(secret, 'utf8').digest();
}

async function everyDocument(): Promise<{ collection: string; doc: Document }[]> {
  const out: { collection: string; doc: Document }[] = [];
  for (const { name } of await svc.db.listCollections({}, { nameOnly: true }).toArray()) {
    for (const doc of await svc.db.collection(name).find({}).toArray()) out.push({ collection: name, doc });
  }
  return out;
}

function expectNoSecretIn(where: string, doc: Document) {
  const json = JSON.stringify(doc);
  const bson = Buffer.from(BSON.serialize(doc));
  for (const secret of secrets) {
    for (const form of forbiddenForms(secret)) {
      expect(json.includes(form), `${form} in JSON of ${where}`).toBe(false);
      expect(bson.includes(Buffer.from(form, 'utf8')), `${form} in BSON of ${where}`).toBe(false);
    }
  }
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
  const users = await svc.db.collection<RawUser>('users').find({}).toArray();
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
  const archived = await svc.db.collection('archived_tokens').find({}).toArray();
  const archivedSecrets = secrets.filter((s) => !active.some((a) => a.secret === s));
  expect(archivedSecrets).toHaveLength(archived.length);
  const serialized = Buffer.concat(archived.map((doc) => Buffer.from(BSON.serialize(doc))));
  for (const secret of archivedSecrets) expect(serialized.includes(sha256(secret))).toBe(false);
});

test('the replication oplog never carried a secret to the database', async () => {
  const oplog = svc.db.client.db('local').collection('oplog.rs');
  const ours = new RegExp(`^${svc.dbName}\\.`);
  const entries = await oplog.find({ $or: [{ ns: ours }, { 'o.applyOps.ns': ours }] }).toArray();
  // Inserts of the users, token pushes and archive inserts (inside transactions) are all in there.
  expect(entries.length).toBeGreaterThan(10);
  const serialized = Buffer.concat(entries.map((e) => Buffer.from(BSON.serialize(e))));
  expect(serialized.includes(sha256(active[0]!.secret))).toBe(true);
  for (const secret of secrets) {
    for (const form of forbiddenForms(secret)) expect(serialized.includes(Buffer.from(form, 'utf8')), form).toBe(false);
  }
});
