// API keys end to end: every scope against every method, missing/malformed/unknown keys, rotation
// (several keys at once, API_KEYS and API_KEYS_FILE), the keys CLI, and health and reflection without
// keys. (The rule that only a loopback-bound service may run without keys: api-keys-loopback.test.ts.)
//
// Keys travel as `authorization: Bearer <key>` metadata. Missing or unknown key: UNAUTHENTICATED
// (AUTH_ERR_APIKEY_NOT_FOUND); a key whose scope does not cover the method: PERMISSION_DENIED
// (AUTH_ERR_NO_ACCESS, with the key's name and the method in ErrorInfo metadata).
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { Metadata, status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { ensureGoTool } from '../../scripts/go-tools';
import { firstEvent } from '../support/event-watch';
import { type Scope, generateApiKey, keyEntry } from '../../src/domain/api-keys';
import { runBinary } from '../support/go-binaries';
import { pollUntil } from '../support/poll';
import { startTestService, type TestService } from '../support/service';
import { bearer, grpcError } from '../support/grpc-status';
import { SERVED_SERVICES, snapshot } from './helpers';

const REPO_ROOT = resolve(__dirname, '../..');
const run = promisify(execFile);

/** Metadata carrying `authorization: <value>` (a whole header value, scheme included). */
function authorization(value: string): Metadata {
  const metadata = new Metadata();
  metadata.set('authorization', value);
  return metadata;
}

// The keys of the main service: one per scope, plus a second full key (a rotation in progress),
// plus one configured through API_KEYS_FILE.
const keys = {
  opsOld: generateApiKey(),
  opsNew: generateApiKey(),
  login: generateApiKey(),
  gateway: generateApiKey(),
  scanner: generateApiKey(),
  fromFile: generateApiKey(),
};
const KEY_BY_SCOPE: Record<Scope, { key: string; name: string }> = {
  full: { key: keys.opsNew, name: 'ops-new' },
  auth_only: { key: keys.login, name: 'login-backend' },
  validate: { key: keys.gateway, name: 'chat-gateway' },
  revoke: { key: keys.scanner, name: 'secret-scanner' },
};

let tempDir: string;
let keyFile: string;
let svc: TestService;

beforeAll(async () => {
  tempDir = await mkdtemp(join(tmpdir(), 'authtoken-api-keys-'));
  keyFile = join(tempDir, 'api-keys');
  await writeFile(
    keyFile,
    ['# API keys of the auth-token service (one per line)', '', `  file-ops:full:${sha256hex(keys.fromFile)}  # from the file`, ''].join('\n'),
  );
  svc = await startTestService({
    API_KEYS: [
      keyEntry('ops-old', 'full', keys.opsOld),
      keyEntry('ops-new', 'full', keys.opsNew),
      keyEntry('login-backend', 'auth_only', keys.login),
      keyEntry('chat-gateway', 'validate', keys.gateway),
      keyEntry('secret-scanner', 'revoke', keys.scanner),
    ].join(','),
    API_KEYS_FILE: keyFile,
  });
});

afterAll(async () => {
  await svc?.stop();
  if (tempDir) await rm(tempDir, { recursive: true, force: true });
});

function sha256hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/** A user with one token, made with a full key: what a call under test acts on. */
interface Fixture {
  uid: string;
  secret: string;
  tokenId: string;
}

async function fixture(service: TestService, uid: string, admin = keys.opsNew): Promise<Fixture> {
  const created = await service.users.createUser({ uid, name: `User ${uid}`, withAuthToken: true }, bearer(admin));
  return { uid, secret: created.authToken!.authToken, tokenId: created.authToken!.tokenId };
}

/**
 * The 13 methods, each as a call that succeeds on a fresh fixture when the key may call it.
 * (CreateUser creates a new uid; the others act on the fixture's user and token.)
 */
const METHODS: Record<string, (service: TestService, f: Fixture, metadata: Metadata) => Promise<unknown>> = {
  CreateUser: (s, f, m) => s.users.createUser({ uid: `${f.uid}-new`, name: 'New' }, m),
  GetUser: (s, f, m) => s.users.getUser({ uid: f.uid }, m),
  DeleteUser: (s, f, m) => s.users.deleteUser({ uid: f.uid }, m),
  CreateAuthToken: (s, f, m) => s.tokens.createAuthToken({ uid: f.uid }, m),
  ListAuthTokens: (s, f, m) => s.tokens.listAuthTokens({ uid: f.uid }, m),
  GetAuthToken: (s, f, m) => s.tokens.getAuthToken({ uid: f.uid, authToken: f.tokenId }, m),
  UpdateAuthToken: (s, f, m) => s.tokens.updateAuthToken({ uid: f.uid, authToken: f.tokenId, platform: 'web' }, m),
  DeleteAuthToken: (s, f, m) => s.tokens.deleteAuthToken({ uid: f.uid, authToken: f.tokenId }, m),
  FlushAuthTokens: (s, f, m) => s.tokens.flushAuthTokens({ uid: f.uid }, m),
  ValidateAuthToken: (s, f, m) => s.tokens.validateAuthToken({ authToken: f.secret }, m),
  ListArchivedAuthTokens: (s, f, m) => s.tokens.listArchivedAuthTokens({ uid: f.uid }, m),
  RevokeAuthTokens: (s, f, m) => s.tokens.revokeAuthTokens({ authTokens: [f.secret] }, m),
  // Allowed once the stream is live (its first message); refused with the stream's status.
  WatchAuthTokenEvents: (s, f, m) => firstEvent(s.address, { uids: [f.uid] }, m),
};
const METHOD_NAMES = Object.keys(METHODS);

const ALLOWED: Record<Scope, readonly string[]> = {
  full: METHOD_NAMES,
  auth_only: ['CreateUser', 'CreateAuthToken'],
  validate: ['ValidateAuthToken', 'WatchAuthTokenEvents'],
  revoke: ['RevokeAuthTokens'],
};

let fixtureCount = 0;
const nextUid = (prefix: string) => `${prefix}-${++fixtureCount}`;

describe('every scope against every method', () => {
  const table = (Object.keys(ALLOWED) as Scope[]).flatMap((scope) =>
    METHOD_NAMES.map((method) => ({ scope, method, allowed: ALLOWED[scope].includes(method) })),
  );

  test.each(table)('$scope key calling $method: allowed = $allowed', async ({ scope, method, allowed }) => {
    const f = await fixture(svc, nextUid('scope'));
    const { key, name } = KEY_BY_SCOPE[scope];
    const call = () => METHODS[method]!(svc, f, bearer(key));
    if (allowed) {
      // Each call is built to succeed on its fixture: passing admission is not enough, it must work.
      await expect(call()).resolves.toBeDefined();
      return;
    }
    const before = await snapshot(svc);
    const error = await grpcError(call());
    expect(error).toMatchObject({
      code: status.PERMISSION_DENIED,
      reason: 'AUTH_ERR_NO_ACCESS',
      domain: 'authtoken.v1',
      metadata: { key: name, method },
    });
    expect(error.message).toBe(
      `The key ${name} cannot be used to perform ${method}. Please use an API key with a correct scope.`,
    );
    // A refused call changed nothing.
    expect(await snapshot(svc)).toEqual(before);
  });
});

describe('missing, malformed and unknown keys', () => {
  let f: Fixture;
  beforeAll(async () => {
    f = await fixture(svc, 'keys-target');
  });

  async function expectUnauthenticated(pending: Promise<unknown>) {
    const error = await grpcError(pending);
    expect(error).toEqual({
      code: status.UNAUTHENTICATED,
      message: 'A valid API key is required: send "authorization: Bearer <key>" metadata.',
      reason: 'AUTH_ERR_APIKEY_NOT_FOUND',
      domain: 'authtoken.v1',
      metadata: {},
      fields: [],
    });
  }

  test.each(METHOD_NAMES)('no authorization metadata: %s is UNAUTHENTICATED and changes nothing', async (method) => {
    const before = await snapshot(svc);
    await expectUnauthenticated(METHODS[method]!(svc, f, new Metadata()));
    expect(await snapshot(svc)).toEqual(before);
  });

  const unknownKey = generateApiKey();
  const refused: [string, () => Metadata][] = [
    ['an empty authorization value', () => authorization('')],
    ['"Bearer" with nothing', () => authorization('Bearer')],
    ['"Bearer " with only a space', () => authorization('Bearer ')],
    ['"Basic x"', () => authorization('Basic x')],
    ['a valid key under the Basic scheme', () => authorization(`Basic ${keys.opsNew}`)],
    ['a valid key under another scheme', () => authorization(`Token ${keys.opsNew}`)],
    ['a valid key without a scheme', () => authorization(keys.opsNew)],
    ['a valid key glued to the scheme', () => authorization(`Bearer${keys.opsNew}`)],
    ['a valid key followed by another word', () => authorization(`Bearer ${keys.opsNew} extra`)],
    ['an unknown key', () => bearer(unknownKey)],
    ['a valid key minus its last character', () => bearer(keys.opsNew.slice(0, -1))],
    ['a valid key in upper case', () => bearer(keys.opsNew.toUpperCase())],
    ['the configured SHA-256 of a valid key', () => bearer(sha256hex(keys.opsNew))],
    ['the configured entry of a valid key', () => bearer(keyEntry('ops-new', 'full', keys.opsNew))],
    [
      'a valid key in another header',
      () => {
        const m = new Metadata();
        m.set('x-api-key', keys.opsNew);
        return m;
      },
    ],
  ];

  test.each(refused)('%s: UNAUTHENTICATED AUTH_ERR_APIKEY_NOT_FOUND', async (_what, metadata) => {
    await expectUnauthenticated(svc.users.getUser({ uid: f.uid }, metadata()));
    await expectUnauthenticated(svc.tokens.validateAuthToken({ authToken: f.secret }, metadata()));
    await expectUnauthenticated(svc.users.createUser({ uid: 'never-created', name: 'Never' }, metadata()));
  });

  test('nothing was created by the refused calls', async () => {
    expect(await svc.db.collection('users').countDocuments({ _id: 'never-created' as never })).toBe(0);
  });

  test('the scheme is case-insensitive and may be followed by several spaces (RFC 7235 / RFC 6750)', async () => {
    await expect(svc.users.getUser({ uid: f.uid }, authorization(`bearer ${keys.opsNew}`))).resolves.toMatchObject({ uid: f.uid });
    await expect(svc.users.getUser({ uid: f.uid }, authorization(`BEARER ${keys.opsNew}`))).resolves.toMatchObject({ uid: f.uid });
    await expect(svc.users.getUser({ uid: f.uid }, authorization(`Bearer   ${keys.opsNew}`))).resolves.toMatchObject({ uid: f.uid });
  });
});

describe('rotation: several keys active at once, from API_KEYS and API_KEYS_FILE', () => {
  test('the old and the new full key both work, side by side and concurrently', async () => {
    const f = await fixture(svc, 'rotation', keys.opsOld);
    const results = await Promise.all([
      svc.tokens.createAuthToken({ uid: f.uid }, bearer(keys.opsOld)),
      svc.tokens.createAuthToken({ uid: f.uid }, bearer(keys.opsNew)),
      svc.tokens.createAuthToken({ uid: f.uid }, bearer(keys.fromFile)),
    ]);
    expect(results.map((r) => r.authToken!.uid)).toEqual([f.uid, f.uid, f.uid]);
    const list = await svc.tokens.listAuthTokens({ uid: f.uid }, bearer(keys.opsOld));
    expect(list.totalSize).toBe(4);
  });

  test('the key configured in API_KEYS_FILE (with comments and blank lines) has its full scope', async () => {
    const f = await fixture(svc, 'from-file', keys.fromFile);
    await expect(svc.tokens.validateAuthToken({ authToken: f.secret }, bearer(keys.fromFile))).resolves.toMatchObject({ uid: f.uid });
    await expect(svc.users.deleteUser({ uid: f.uid }, bearer(keys.fromFile))).resolves.toEqual({ archivedTokenCount: 1 });
  });

  test('after the old line is removed, only the new key works (the same key file format alone)', async () => {
    const onlyNew = join(tempDir, 'api-keys-rotated');
    await writeFile(onlyNew, `# rotated\nops-new:full:${sha256hex(keys.opsNew)}\n`);
    const rotated = await startTestService({ API_KEYS_FILE: onlyNew });
    try {
      await expect(rotated.users.createUser({ uid: 'after-rotation', name: 'A' }, bearer(keys.opsNew))).resolves.toMatchObject({
        user: { uid: 'after-rotation' },
      });
      const error = await grpcError(rotated.users.getUser({ uid: 'after-rotation' }, bearer(keys.opsOld)));
      expect(error).toMatchObject({ code: status.UNAUTHENTICATED, reason: 'AUTH_ERR_APIKEY_NOT_FOUND' });
    } finally {
      await rotated.stop();
    }
  });
});

describe('the keys CLI', () => {
  // What `npm run keys -- ...` runs (tsx src/cli/keys.ts), without npm's own output around it.
  async function keysCli(...args: string[]) {
    return run(process.execPath, ['--import', 'tsx', 'src/cli/keys.ts', ...args], { cwd: REPO_ROOT, timeout: 60_000 });
  }

  test('create prints a new key once and the line to configure; that key validates tokens and nothing else', async () => {
    const { stdout, stderr } = await keysCli('create', '--scope', 'validate', '--name', 'gw');
    expect(stderr).toBe('');
    const lines = stdout.split('\n');
    expect(lines).toHaveLength(5);
    expect(lines[0]).toBe('API key (shown once; give it to the calling service as "authorization: Bearer <key>"):');
    expect(lines[1]).toMatch(/^ {2}cak_[0-9A-Za-z]{40}$/);
    expect(lines[2]).toBe('Add this line to API_KEYS (comma-separated) or API_KEYS_FILE (one per line):');
    expect(lines[3]).toMatch(/^ {2}gw:validate:[0-9a-f]{64}$/);
    expect(lines[4]).toBe('');
    const key = lines[1]!.trim();
    const entry = lines[3]!.trim();
    // The line configures the key's hash, not the key.
    expect(entry).toBe(`gw:validate:${sha256hex(key)}`);
    expect(entry).not.toContain(key.slice(4));

    const admin = generateApiKey();
    const cliSvc = await startTestService({ API_KEYS: `${entry},${keyEntry('admin', 'full', admin)}` });
    try {
      const f = await fixture(cliSvc, 'cli-user', admin);
      await expect(cliSvc.tokens.validateAuthToken({ authToken: f.secret }, bearer(key))).resolves.toMatchObject({
        uid: 'cli-user',
        authToken: { tokenId: f.tokenId },
      });
      const error = await grpcError(cliSvc.users.createUser({ uid: 'by-gateway', name: 'No' }, bearer(key)));
      expect(error).toMatchObject({
        code: status.PERMISSION_DENIED,
        reason: 'AUTH_ERR_NO_ACCESS',
        metadata: { key: 'gw', method: 'CreateUser' },
      });
      expect(await cliSvc.db.collection('users').countDocuments()).toBe(1);
    } finally {
      await cliSvc.stop();
    }
  });

  test('every run prints a different key', async () => {
    const [a, b] = await Promise.all([keysCli('create', '--scope', 'full', '--name', 'a'), keysCli('create', '--scope', 'full', '--name', 'a')]);
    const keyOf = (out: string) => out.split('\n')[1]!.trim();
    expect(keyOf(a.stdout)).not.toBe(keyOf(b.stdout));
  });

  test.each([
    [['create', '--scope', 'admin']],
    [['create']],
    [['delete', '--scope', 'full']],
    [['create', '--scope', 'full', '--name', 'bad name']],
  ])('%j: usage on stderr, exit 2, no key printed', async (args) => {
    const failed = await keysCli(...args).then(
      () => undefined,
      (error: { code: number; stdout: string; stderr: string }) => error,
    );
    expect(failed).toBeDefined();
    expect(failed!.code).toBe(2);
    expect(failed!.stdout).toBe('');
    expect(failed!.stderr).toBe('usage: npm run keys -- create --scope <full|auth_only|validate|revoke> [--name NAME]\n');
  });
});

describe('health and reflection stay open on a keyed server', () => {
  test('grpc_health_probe (no key): liveness and both readiness services are SERVING', async () => {
    const probe = await ensureGoTool('grpc-health-probe');
    const check = (service: string) =>
      runBinary(probe, [`-addr=127.0.0.1:${svc.port}`, `-service=${service}`, '-connect-timeout=5s', '-rpc-timeout=5s']);
    const liveness = await check('');
    expect(liveness.code, liveness.stderr).toBe(0);
    // grpc_health_probe reports on stderr.
    expect(liveness.stderr.trim()).toBe('status: SERVING');
    for (const service of ['authtoken.v1.AuthTokenService', 'authtoken.v1.UserService']) {
      // Readiness follows the database check (every second); it is SERVING once MongoDB answered.
      const { result } = await pollUntil(`${service} SERVING`, () => check(service), (r) => r.code === 0, { timeoutMs: 15_000 });
      expect(result.stderr.trim()).toBe('status: SERVING');
    }
  }, 300_000);

  test('grpcurl (no key): list and describe by reflection; a method call needs the key', async () => {
    const grpcurl = await ensureGoTool('grpcurl');
    const address = `127.0.0.1:${svc.port}`;
    const list = await runBinary(grpcurl, ['-plaintext', address, 'list']);
    expect(list.code, list.stderr).toBe(0);
    expect(list.stdout.trim().split('\n')).toEqual(SERVED_SERVICES);
    const describeResult = await runBinary(grpcurl, ['-plaintext', address, 'describe', 'authtoken.v1.UserService']);
    expect(describeResult.code, describeResult.stderr).toBe(0);
    expect(describeResult.stdout).toContain('rpc CreateUser ( .authtoken.v1.CreateUserRequest ) returns ( .authtoken.v1.CreateUserResponse );');

    // A call without the key: exit 64 + UNAUTHENTICATED (16), the reason decoded by reflection.
    const request = JSON.stringify({ uid: 'via-grpcurl', name: 'G' });
    const denied = await runBinary(grpcurl, ['-plaintext', '-d', request, address, 'authtoken.v1.UserService/CreateUser']);
    expect(denied.code).toBe(64 + status.UNAUTHENTICATED);
    expect(denied.stderr).toContain('Code: Unauthenticated');
    expect(denied.stderr).toContain('"reason": "AUTH_ERR_APIKEY_NOT_FOUND"');
    // With it (the README's -H form).
    const allowed = await runBinary(grpcurl, [
      '-plaintext',
      '-H',
      `authorization: Bearer ${keys.login}`,
      '-d',
      request,
      address,
      'authtoken.v1.UserService/CreateUser',
    ]);
    expect(allowed.code, allowed.stderr).toBe(0);
    expect(JSON.parse(allowed.stdout).user.uid).toBe('via-grpcurl');
  }, 300_000);
});
