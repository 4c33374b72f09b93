// The whole CometChat flow through the real grpcurl, knowing nothing but the address: every
// service, message and error detail is resolved by server reflection (no -proto, no -import-path).
//
// grpcurl prints proto3 JSON: lowerCamelCase names, default values omitted, enums by name,
// Timestamps as RFC 3339. A failed call exits 64 + the status code and prints the status on stderr.
import { afterAll, beforeAll, expect, test } from 'vitest';
import { ensureGoTool } from '../../scripts/go-tools';
import { type RunResult, runBinary } from '../support/go-binaries';
import { startTestService, type TestService } from '../support/service';
import { SERVED_SERVICES } from './helpers';

let grpcurl: string;
let svc: TestService;

beforeAll(async () => {
  // The first build of grpcurl (go install) can take a minute or two.
  grpcurl = await ensureGoTool('grpcurl');
  svc = await startTestService();
}, 300_000);

afterAll(() => svc?.stop());

function grpcurlRaw(args: readonly string[]): Promise<RunResult> {
  return runBinary(grpcurl, ['-plaintext', ...args]);
}

/** Calls `method` with `request` as JSON; resolves with the parsed response, failing on a non-zero exit. */
async function call(method: string, request: object): Promise<any> {
  const result = await grpcurlRaw(['-d', JSON.stringify(request), `127.0.0.1:${svc.port}`, method]);
  if (result.code !== 0) throw new Error(`grpcurl ${method} exited ${result.code}: ${result.stderr}`);
  return JSON.parse(result.stdout);
}

const ISO_MILLIS = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;
const TOKEN_ID = /^tid_[0-9A-Za-z]{22}$/;
const SECRET = (uid: string) => new RegExp(`^cat_${uid}_[0-9A-Za-z]{36}$`);

/** grpcurl exit code for a call that ended with gRPC status `code`. */
const exitFor = (code: number) => 64 + code;

test('reflection: list shows both services, describe resolves services and messages', async () => {
  const list = await grpcurlRaw([`127.0.0.1:${svc.port}`, 'list']);
  expect(list.code).toBe(0);
  expect(list.stdout.trim().split('\n')).toEqual(SERVED_SERVICES);

  const methods = await grpcurlRaw([`127.0.0.1:${svc.port}`, 'list', 'authtoken.v1.AuthTokenService']);
  expect(methods.code).toBe(0);
  // grpcurl lists them sorted.
  expect(methods.stdout.trim().split('\n')).toEqual(
    [
      'CreateAuthToken',
      'DeleteAuthToken',
      'FlushAuthTokens',
      'GetAuthToken',
      'ListArchivedAuthTokens',
      'ListAuthTokens',
      'RevokeAuthTokens',
      'UpdateAuthToken',
      'ValidateAuthToken',
      'WatchAuthTokenEvents',
    ].map((m) => `authtoken.v1.AuthTokenService.${m}`),
  );

  const service = await grpcurlRaw([`127.0.0.1:${svc.port}`, 'describe', 'authtoken.v1.AuthTokenService']);
  expect(service.code).toBe(0);
  expect(service.stdout).toContain('authtoken.v1.AuthTokenService is a service:');
  expect(service.stdout).toContain(
    'rpc CreateAuthToken ( .authtoken.v1.CreateAuthTokenRequest ) returns ( .authtoken.v1.CreateAuthTokenResponse );',
  );

  // AuthToken imports Timestamp and Struct: describing it needs the server to send those files too.
  const message = await grpcurlRaw([`127.0.0.1:${svc.port}`, 'describe', 'authtoken.v1.AuthToken']);
  expect(message.code).toBe(0);
  expect(message.stdout).toContain('authtoken.v1.AuthToken is a message:');
  expect(message.stdout).toContain('.google.protobuf.Timestamp last_used_time = 6;');
  expect(message.stdout).toContain('.google.protobuf.Struct app_info = 10;');
});

/** A token as grpcurl prints it: the secret (authToken) only in the response that issued it. */
interface TokenJson {
  tokenId: string;
  authToken?: string;
  uid: string;
  createTime: string;
  updateTime: string;
  [field: string]: unknown;
}
/** A token in the response that issued it, with its secret. */
type IssuedTokenJson = TokenJson & { authToken: string };
/** CreateAuthToken's response, when nothing was evicted or replaced. */
interface CreateAuthTokenJson {
  authToken: IssuedTokenJson;
}

test('the CometChat flow, end to end', async () => {
  const created = await createUserWithFirstToken();
  const first = created.authToken;
  const { plain, phone } = await createTwoMoreTokens();
  const ids = [first.tokenId, plain.authToken.tokenId, phone.authToken.tokenId];
  expect(new Set(ids).size).toBe(3);

  await listNewestFirstWithoutSecrets(ids);
  const phoneWithoutSecret = await getByTokenId(phone);
  await updateOnlyTheMaskedField(phone, phoneWithoutSecret);
  await validateRecordingLastUse(plain, created.user);
  await deleteBySecret(first);
  await flushTheTwoLeft();
  await listTheArchive(first, plain, phone);
  await deleteUserKeepingTheArchive();
});

// The steps of the CometChat flow, in the order it takes them.

/** CreateUser with its first token; the uid is lower-cased. */
async function createUserWithFirstToken(): Promise<{ user: object; authToken: IssuedTokenJson }> {
  const created = await call('authtoken.v1.UserService/CreateUser', {
    uid: 'Alice',
    name: 'Alice Liddell',
    metadata: { plan: 'pro' },
    with_auth_token: true,
  });
  expect(Object.keys(created).sort()).toEqual(['authToken', 'user']);
  expect(created.user).toEqual({
    uid: 'alice',
    name: 'Alice Liddell',
    metadata: { plan: 'pro' },
    createTime: expect.stringMatching(ISO_MILLIS),
    updateTime: created.user.createTime,
  });
  const first = created.authToken;
  expect(first).toEqual({
    tokenId: expect.stringMatching(TOKEN_ID),
    authToken: expect.stringMatching(SECRET('alice')),
    uid: 'alice',
    createTime: created.user.createTime,
    updateTime: created.user.createTime,
  });
  return created;
}

/** Two more tokens: one plain, one for a device. */
async function createTwoMoreTokens(): Promise<{ plain: CreateAuthTokenJson; phone: CreateAuthTokenJson }> {
  const plain = await call('authtoken.v1.AuthTokenService/CreateAuthToken', { uid: 'alice' });
  // Nothing evicted or replaced: both repeated fields are empty, so omitted.
  expect(Object.keys(plain)).toEqual(['authToken']);
  expect(plain.authToken.authToken).toMatch(SECRET('alice'));
  const phone = await call('authtoken.v1.AuthTokenService/CreateAuthToken', {
    uid: 'alice',
    device_id: 'iphone-15',
    platform: 'ios',
  });
  expect(phone).toEqual({
    authToken: {
      tokenId: expect.stringMatching(TOKEN_ID),
      authToken: expect.stringMatching(SECRET('alice')),
      uid: 'alice',
      createTime: expect.stringMatching(ISO_MILLIS),
      updateTime: phone.authToken.createTime,
      platform: 'ios',
      deviceId: 'iphone-15',
    },
  });
  return { plain, phone };
}

/** ListAuthTokens: newest first, never a secret, last page so no next_page_token. */
async function listNewestFirstWithoutSecrets(ids: string[]): Promise<void> {
  const list = await call('authtoken.v1.AuthTokenService/ListAuthTokens', { uid: 'alice' });
  expect(list.totalSize).toBe(3);
  expect(list.nextPageToken).toBeUndefined();
  expect(list.authTokens.map((t: { tokenId: string }) => t.tokenId)).toEqual([...ids].reverse());
  expect(list.authTokens.every((t: object) => !('authToken' in t))).toBe(true);
}

/** GetAuthToken by its public token_id; resolves with the token as stored (no secret). */
async function getByTokenId(phone: CreateAuthTokenJson): Promise<TokenJson> {
  const got = await call('authtoken.v1.AuthTokenService/GetAuthToken', { uid: 'alice', auth_token: phone.authToken.tokenId });
  const { authToken: _secret, ...phoneWithoutSecret } = phone.authToken;
  expect(got).toEqual(phoneWithoutSecret);
  return phoneWithoutSecret;
}

/** UpdateAuthToken with an update_mask: only user_agent is written, the platform given is ignored. */
async function updateOnlyTheMaskedField(phone: CreateAuthTokenJson, phoneWithoutSecret: TokenJson): Promise<void> {
  // (grpcurl reads a FieldMask as {"paths": [...]}, not the canonical "userAgent" string:
  // fullstorydev/grpcurl#393.)
  const updated = await call('authtoken.v1.AuthTokenService/UpdateAuthToken', {
    uid: 'alice',
    auth_token: phone.authToken.tokenId,
    platform: 'android',
    user_agent: 'ChatApp/2.1 (iOS 18)',
    update_mask: { paths: ['user_agent'] },
  });
  expect(updated).toEqual({
    ...phoneWithoutSecret,
    userAgent: 'ChatApp/2.1 (iOS 18)',
    updateTime: expect.stringMatching(ISO_MILLIS),
  });
  expect(Date.parse(updated.updateTime)).toBeGreaterThanOrEqual(Date.parse(phone.authToken.createTime));
}

/** ValidateAuthToken with the secret: the login check records the last use. */
async function validateRecordingLastUse(plain: CreateAuthTokenJson, user: object): Promise<void> {
  const validated = await call('authtoken.v1.AuthTokenService/ValidateAuthToken', {
    auth_token: plain.authToken.authToken,
    user_agent: 'ChatApp/2.1 (Android 15)',
  });
  expect(validated).toEqual({
    uid: 'alice',
    authToken: {
      tokenId: plain.authToken.tokenId,
      uid: 'alice',
      createTime: plain.authToken.createTime,
      updateTime: plain.authToken.createTime,
      lastUsedTime: expect.stringMatching(ISO_MILLIS),
      userAgent: 'ChatApp/2.1 (Android 15)',
    },
    user,
  });
}

/** DeleteAuthToken by secret: archived as DELETED. */
async function deleteBySecret(first: IssuedTokenJson): Promise<void> {
  const deleted = await call('authtoken.v1.AuthTokenService/DeleteAuthToken', {
    uid: 'alice',
    auth_token: first.authToken,
  });
  expect(deleted).toEqual({
    archivedAuthToken: {
      authToken: {
        tokenId: first.tokenId,
        uid: 'alice',
        createTime: first.createTime,
        updateTime: first.updateTime,
      },
      archiveTime: expect.stringMatching(ISO_MILLIS),
      reason: 'ARCHIVE_REASON_DELETED',
    },
  });
}

/** FlushAuthTokens: the two left. */
async function flushTheTwoLeft(): Promise<void> {
  expect(await call('authtoken.v1.AuthTokenService/FlushAuthTokens', { uid: 'alice' })).toEqual({ deletedCount: 2 });
  expect(await call('authtoken.v1.AuthTokenService/ListAuthTokens', { uid: 'alice' })).toEqual({});
}

/** ListArchivedAuthTokens: all three, most recently archived first. */
async function listTheArchive(first: TokenJson, plain: CreateAuthTokenJson, phone: CreateAuthTokenJson): Promise<void> {
  const archived = await call('authtoken.v1.AuthTokenService/ListArchivedAuthTokens', { uid: 'alice' });
  expect(archived.nextPageToken).toBeUndefined();
  const reasons = Object.fromEntries(
    archived.archivedAuthTokens.map((a: { authToken: { tokenId: string }; reason: string }) => [a.authToken.tokenId, a.reason]),
  );
  expect(reasons).toEqual({
    [first.tokenId]: 'ARCHIVE_REASON_DELETED',
    [plain.authToken.tokenId]: 'ARCHIVE_REASON_FLUSHED',
    [phone.authToken.tokenId]: 'ARCHIVE_REASON_FLUSHED',
  });
  expect(archived.archivedAuthTokens.at(-1).authToken.tokenId).toBe(first.tokenId);
  const flushedRecord = archived.archivedAuthTokens.find(
    (a: { authToken: { tokenId: string } }) => a.authToken.tokenId === phone.authToken.tokenId,
  );
  expect(flushedRecord.authToken.userAgent).toBe('ChatApp/2.1 (iOS 18)');
}

/** DeleteUser: no active tokens were left, so archived_token_count is 0 and omitted. */
async function deleteUserKeepingTheArchive(): Promise<void> {
  expect(await call('authtoken.v1.UserService/DeleteUser', { uid: 'alice' })).toEqual({});
  // The archive outlives the user.
  const afterDelete = await call('authtoken.v1.AuthTokenService/ListArchivedAuthTokens', { uid: 'alice' });
  expect(afterDelete.archivedAuthTokens).toHaveLength(3);
}

test('NOT_FOUND: grpcurl decodes the ErrorInfo detail through reflection', async () => {
  const result = await grpcurlRaw(['-d', '{"uid":"nobody"}', `127.0.0.1:${svc.port}`, 'authtoken.v1.UserService/GetUser']);
  expect(result.code).toBe(exitFor(5));
  expect(result.stdout).toBe('');
  expect(result.stderr).toContain('Code: NotFound');
  expect(result.stderr).toContain(
    'Message: The UID nobody does not exist, please make sure you have created a user with UID nobody.',
  );
  expect(result.stderr).toContain('"@type": "type.googleapis.com/google.rpc.ErrorInfo"');
  expect(result.stderr).toContain('"reason": "ERR_UID_NOT_FOUND"');

  // The same status as JSON (-format-error), for exact comparison.
  const json = await grpcurlRaw([
    '-format-error',
    '-d',
    '{"uid":"nobody"}',
    `127.0.0.1:${svc.port}`,
    'authtoken.v1.UserService/GetUser',
  ]);
  expect(json.code).toBe(exitFor(5));
  expect(JSON.parse(json.stderr)).toEqual({
    code: 5,
    message: 'The UID nobody does not exist, please make sure you have created a user with UID nobody.',
    details: [
      {
        '@type': 'type.googleapis.com/google.rpc.ErrorInfo',
        reason: 'ERR_UID_NOT_FOUND',
        domain: 'authtoken.v1',
        metadata: { uid: 'nobody' },
      },
    ],
  });
});

test('INVALID_ARGUMENT: grpcurl decodes the BadRequest field violations', async () => {
  const usersBefore = await svc.db.collection('users').find().toArray();
  const result = await grpcurlRaw([
    '-format-error',
    '-d',
    JSON.stringify({ uid: 'not a uid!', name: '' }),
    `127.0.0.1:${svc.port}`,
    'authtoken.v1.UserService/CreateUser',
  ]);
  expect(result.code).toBe(exitFor(3));
  expect(JSON.parse(result.stderr)).toEqual({
    code: 3,
    message: 'Invalid request: uid, name.',
    details: [
      { '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'ERR_BAD_REQUEST', domain: 'authtoken.v1' },
      {
        '@type': 'type.googleapis.com/google.rpc.BadRequest',
        fieldViolations: [
          { field: 'uid', description: 'Must be 1 to 100 characters of a-z, 0-9, "_" and "-".' },
          { field: 'name', description: 'Required.' },
        ],
      },
    ],
  });
  // A rejected request changed nothing.
  expect(await svc.db.collection('users').find().toArray()).toEqual(usersBefore);
});
