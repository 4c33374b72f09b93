// API key entries (name:scope:sha256hex), key lookup by hash, and what each scope may call.
import { createHash } from 'node:crypto';
import { describe, expect, test } from 'vitest';
import {
  API_KEY_PREFIX,
  ApiKeys,
  type ConfiguredKey,
  SCOPES,
  type Scope,
  generateApiKey,
  hashApiKey,
  keyEntry,
  parseKeyEntries,
} from '../../src/domain/api-keys';

const sha256hex = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');
const HASH_A = sha256hex('key-a');
const HASH_B = sha256hex('key-b');

/** The 13 methods of UserService and AuthTokenService. */
const METHODS = [
  'CreateUser',
  'GetUser',
  'DeleteUser',
  'CreateAuthToken',
  'ListAuthTokens',
  'GetAuthToken',
  'UpdateAuthToken',
  'DeleteAuthToken',
  'FlushAuthTokens',
  'ValidateAuthToken',
  'ListArchivedAuthTokens',
  'RevokeAuthTokens',
  'WatchAuthTokenEvents',
] as const;

const ALLOWED: Record<Scope, readonly string[]> = {
  full: METHODS,
  auth_only: ['CreateUser', 'CreateAuthToken'],
  validate: ['ValidateAuthToken', 'WatchAuthTokenEvents'],
  revoke: ['RevokeAuthTokens'],
};

describe('parseKeyEntries', () => {
  test('one entry', () => {
    expect(parseKeyEntries(`gateway:validate:${HASH_A}`)).toEqual([
      { name: 'gateway', scope: 'validate', hash: Buffer.from(HASH_A, 'hex') },
    ]);
  });

  test('comma-separated (API_KEYS) and newline-separated (API_KEYS_FILE), every scope, every name character', () => {
    const parsed = parseKeyEntries(`login-1:auth_only:${HASH_A}, Ops_2.b:full:${HASH_B}\ngw:validate:${HASH_A}`);
    expect(parsed).toEqual([
      { name: 'login-1', scope: 'auth_only', hash: Buffer.from(HASH_A, 'hex') },
      { name: 'Ops_2.b', scope: 'full', hash: Buffer.from(HASH_B, 'hex') },
      { name: 'gw', scope: 'validate', hash: Buffer.from(HASH_A, 'hex') },
    ]);
    expect(parsed.every((k) => k.hash.length === 32)).toBe(true);
  });

  test('blank lines, whitespace, whole-line and trailing # comments are ignored; CRLF files work', () => {
    const file = [
      '# API keys of the auth-token service',
      '',
      `   old-gw:validate:${HASH_A}   # rotating out`,
      '\t',
      `new-gw:validate:${HASH_B}\r`,
      '# new-gw2:validate:not-a-hash (commented out: not parsed)',
      '',
    ].join('\n');
    expect(parseKeyEntries(file).map((k) => [k.name, k.hash.toString('hex')])).toEqual([
      ['old-gw', HASH_A],
      ['new-gw', HASH_B],
    ]);
  });

  test('a comment is a comment to the end of its line, even when it contains a comma', () => {
    // The natural way to annotate a key file: "# gateway key, rotated 2025-01".
    const file = [`# gateway key, rotated on Monday`, `gw:validate:${HASH_A} # old one, remove after the rollout`].join('\n');
    expect(parseKeyEntries(file).map((k) => k.name)).toEqual(['gw']);
  });

  test('nothing, or only comments, is no key at all', () => {
    expect(parseKeyEntries('')).toEqual([]);
    expect(parseKeyEntries(' , ,\n\n# nothing here\n')).toEqual([]);
  });

  test.each([
    ['unknown scope', `gw:admin:${HASH_A}`],
    ['scope in the wrong case', `gw:FULL:${HASH_A}`],
    ['missing scope', `gw::${HASH_A}`],
    ['hash too short', `gw:full:${HASH_A.slice(1)}`],
    ['hash too long', `gw:full:${HASH_A}0`],
    ['hash in upper case', `gw:full:${HASH_A.toUpperCase()}`],
    ['hash not hex', `gw:full:${'g'.repeat(64)}`],
    ['the key itself instead of its hash', `gw:full:${generateApiKey()}`],
    ['missing hash', 'gw:full'],
    ['only a name', 'gw'],
    ['empty name', `:full:${HASH_A}`],
    ['name with a space', `my gw:full:${HASH_A}`],
    ['name with a slash', `a/b:full:${HASH_A}`],
    ['name of 65 characters', `${'n'.repeat(65)}:full:${HASH_A}`],
    ['an extra field', `gw:full:${HASH_A}:extra`],
  ])('rejects an entry with %s', (_what, entry) => {
    expect(() => parseKeyEntries(entry)).toThrow(/invalid API key entry .*expected name:scope:sha256hex with scope one of full, auth_only, validate/);
  });

  test('one bad entry among good ones rejects the whole configuration', () => {
    expect(() => parseKeyEntries(`a:full:${HASH_A},b:nope:${HASH_B}`)).toThrow(/invalid API key entry "b:nope:/);
  });

  test('a name of 64 characters is the longest accepted', () => {
    expect(parseKeyEntries(`${'n'.repeat(64)}:full:${HASH_A}`)[0]!.name).toHaveLength(64);
  });
});

describe('generateApiKey and keyEntry', () => {
  test('a key is cak_ and 40 base62 characters, different every time', () => {
    const keys = Array.from({ length: 200 }, generateApiKey);
    for (const key of keys) expect(key).toMatch(/^cak_[0-9A-Za-z]{40}$/);
    expect(API_KEY_PREFIX).toBe('cak_');
    expect(new Set(keys).size).toBe(keys.length);
  });

  test('the entry holds the SHA-256 of the key, never the key, and parses back to the same key', () => {
    const key = generateApiKey();
    const entry = keyEntry('gateway', 'validate', key);
    expect(entry).toBe(`gateway:validate:${sha256hex(key)}`);
    expect(entry).not.toContain(key.slice(API_KEY_PREFIX.length));
    expect(hashApiKey(key).equals(Buffer.from(sha256hex(key), 'hex'))).toBe(true);
    const [parsed] = parseKeyEntries(entry);
    expect(new ApiKeys([parsed!]).find(key)).toEqual(parsed);
  });
});

describe('ApiKeys.find', () => {
  const gatewayKey = generateApiKey();
  const loginKey = generateApiKey();
  const opsKey = generateApiKey();
  const keys = new ApiKeys(
    parseKeyEntries(
      [keyEntry('gateway', 'validate', gatewayKey), keyEntry('login', 'auth_only', loginKey), keyEntry('ops', 'full', opsKey)].join(','),
    ),
  );

  test('finds each configured key by the key itself', () => {
    expect(keys.size).toBe(3);
    expect(keys.find(gatewayKey)).toMatchObject({ name: 'gateway', scope: 'validate' });
    expect(keys.find(loginKey)).toMatchObject({ name: 'login', scope: 'auth_only' });
    expect(keys.find(opsKey)).toMatchObject({ name: 'ops', scope: 'full' });
  });

  test.each([
    ['an unknown key', () => generateApiKey()],
    ['the empty string', () => ''],
    ['a configured key with one character changed', () => opsKey.slice(0, -1) + (opsKey.endsWith('a') ? 'b' : 'a')],
    ['a configured key in another case', () => opsKey.toUpperCase()],
    ['a configured key truncated', () => opsKey.slice(0, -1)],
    ['a configured key with a character more', () => `${opsKey}x`],
    ['a configured key with surrounding spaces', () => ` ${opsKey} `],
    ['the configured hash itself (hex)', () => sha256hex(opsKey)],
    ['the key without its prefix', () => opsKey.slice(API_KEY_PREFIX.length)],
  ])('finds nothing for %s', (_what, presented) => {
    expect(keys.find(presented())).toBeUndefined();
  });

  test('with several entries of the same hash (one key configured twice), one of them is found', () => {
    const twice = new ApiKeys(parseKeyEntries(`first:validate:${sha256hex('k')},second:full:${sha256hex('k')}`));
    expect(['first', 'second']).toContain(twice.find('k')!.name);
  });

  test('with no entries, nothing is found', () => {
    expect(new ApiKeys([]).find(opsKey)).toBeUndefined();
  });
});

describe('ApiKeys.allows', () => {
  const cases = SCOPES.flatMap((scope) => METHODS.map((method) => [scope, method, ALLOWED[scope].includes(method)] as const));

  test('the scopes: the three CometChat-style ones, and revoke for a secret scanner', () => {
    expect(SCOPES).toEqual(['full', 'auth_only', 'validate', 'revoke']);
  });

  test.each(cases)('%s may call %s: %s', (scope, method, allowed) => {
    const key: ConfiguredKey = { name: 'k', scope, hash: Buffer.alloc(32) };
    expect(ApiKeys.allows(key, method)).toBe(allowed);
  });

  test.each(['auth_only', 'validate'] as const)('%s may not call unknown or differently cased method names', (scope) => {
    const key: ConfiguredKey = { name: 'k', scope, hash: Buffer.alloc(32) };
    for (const method of ['', 'createUser', 'validateAuthToken', 'CreateUserX', 'Check', 'ServerReflectionInfo']) {
      expect(ApiKeys.allows(key, method)).toBe(false);
    }
  });
});
