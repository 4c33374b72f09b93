// The corpus of test/e2e/bad-input.test.ts: every malformed request it sends, and the one status
// each must get (the test file's header says which status means what). Kept apart from the test so
// that the test reads as what is checked and how; this is only what is sent. (Not a .test.ts file:
// vitest does not collect it.) The bytes are written by hand with test/support/wire/.
//
// Each numbered section builds its cases in a function; `corpus` concatenates them in that order,
// which is the order the test runs them in.
import { status } from '@grpc/grpc-js';
import { generateApiKey } from '../../src/domain/api-keys';
import { MAX_REQUEST_BYTES } from '../../src/grpc/transport-limits';
import { AuthTokenServiceService } from '../../gen/authtoken/v1/auth_token_service';
import { UserServiceService } from '../../gen/authtoken/v1/user_service';
import { grpcFrame } from '../support/wire/grpc-frame';
import { groupField, i32Field, i64Field, lenField, tag, varint, varintField, WIRE } from '../support/wire/protobuf-writer';
import { entry, structBytes, value } from '../support/wire/struct-writer';

/** The API key the service under test is configured with (also one of the malformed auth_token values). */
export const KEY = generateApiKey();
const MAX_MESSAGE = MAX_REQUEST_BYTES;

// ---------------------------------------------------------------------------------------------
// Methods

export const METHODS = {
  CreateUser: { service: 'authtoken.v1.UserService', def: UserServiceService.createUser },
  GetUser: { service: 'authtoken.v1.UserService', def: UserServiceService.getUser },
  DeleteUser: { service: 'authtoken.v1.UserService', def: UserServiceService.deleteUser },
  CreateAuthToken: { service: 'authtoken.v1.AuthTokenService', def: AuthTokenServiceService.createAuthToken },
  ListAuthTokens: { service: 'authtoken.v1.AuthTokenService', def: AuthTokenServiceService.listAuthTokens },
  GetAuthToken: { service: 'authtoken.v1.AuthTokenService', def: AuthTokenServiceService.getAuthToken },
  UpdateAuthToken: { service: 'authtoken.v1.AuthTokenService', def: AuthTokenServiceService.updateAuthToken },
  DeleteAuthToken: { service: 'authtoken.v1.AuthTokenService', def: AuthTokenServiceService.deleteAuthToken },
  FlushAuthTokens: { service: 'authtoken.v1.AuthTokenService', def: AuthTokenServiceService.flushAuthTokens },
  ValidateAuthToken: { service: 'authtoken.v1.AuthTokenService', def: AuthTokenServiceService.validateAuthToken },
  ListArchivedAuthTokens: { service: 'authtoken.v1.AuthTokenService', def: AuthTokenServiceService.listArchivedAuthTokens },
} as const;
export type Method = keyof typeof METHODS;
export const METHOD_NAMES = Object.keys(METHODS) as Method[];
export const pathOf = (method: Method) => `/${METHODS[method].service}/${method}`;

/** A request as the generated client takes it (camelCase, partial). */
export type Request = Record<string, unknown>;

/** The proto encoding of a (partial) request, exactly as the generated client sends it. */
export function encode(method: Method, request: Request): Buffer {
  const def = METHODS[method].def as unknown as {
    requestSerialize(value: unknown): Buffer;
    requestDeserialize(bytes: Buffer): Request;
  };
  return def.requestSerialize({ ...def.requestDeserialize(Buffer.alloc(0)), ...request });
}

/** Field numbers of each method's string fields (camelCase name -> number). */
const STRING_FIELDS: Record<Method, Record<string, number>> = {
  CreateUser: { uid: 1, name: 2 },
  GetUser: { uid: 1 },
  DeleteUser: { uid: 1 },
  CreateAuthToken: { uid: 1, platform: 3, deviceId: 4, userAgent: 5 },
  ListAuthTokens: { uid: 1, pageToken: 3 },
  GetAuthToken: { uid: 1, authToken: 2 },
  UpdateAuthToken: { uid: 1, authToken: 2, platform: 3, userAgent: 4 },
  DeleteAuthToken: { uid: 1, authToken: 2 },
  FlushAuthTokens: { uid: 1 },
  ValidateAuthToken: { authToken: 1, platform: 2, deviceId: 3, userAgent: 4 },
  ListArchivedAuthTokens: { uid: 1, pageToken: 3 },
};
/** The google.protobuf.Struct field of the methods that have one. */
const STRUCT_FIELDS: Partial<Record<Method, [string, number]>> = {
  CreateUser: ['metadata', 3],
  CreateAuthToken: ['appInfo', 6],
  UpdateAuthToken: ['appInfo', 5],
  ValidateAuthToken: ['appInfo', 5],
};
/** The field every request needs (camelCase, number, proto name). */
const REQUIRED: Record<Method, [string, number, string]> = Object.fromEntries(
  METHOD_NAMES.map((m) => [m, m === 'ValidateAuthToken' ? ['authToken', 1, 'auth_token'] : ['uid', 1, 'uid']]),
) as Record<Method, [string, number, string]>;
const UID_METHODS = METHOD_NAMES.filter((m) => m !== 'ValidateAuthToken');
const TOKEN_REF_METHODS = ['GetAuthToken', 'UpdateAuthToken', 'DeleteAuthToken'] as const;

const BAD_UTF8: Record<string, number[]> = {
  'ff fe': [0xff, 0xfe],
  'overlong "/"': [0xc0, 0xaf],
  'UTF-16 surrogate': [0xed, 0xa0, 0x80],
  'truncated "€"': [0xe2, 0x82],
  'above U+10FFFF': [0xf4, 0x90, 0x80, 0x80],
};

// ---------------------------------------------------------------------------------------------
// Seeded data and requests built on it

export interface Ctx {
  seedSecret: string;
  seedTokenId: string;
  archivedSecret: string;
  archivedTokenId: string;
  otherSecret: string;
  otherTokenId: string;
  /** A token with a valid checksum for bi-seed that was never issued. */
  forgedSeed: string;
  /** A token with a valid checksum for a uid that does not exist. */
  forgedGhost: string;
  /** next_page_token of ListAuthTokens(bi-seed, page_size 1). */
  tokensPageToken: string;
  /** next_page_token of ListArchivedAuthTokens(bi-seed, page_size 1). */
  archivePageToken: string;
}

/**
 * Valid requests that would change data if the defect added to them went unnoticed: they probe
 * that a rejection really happens before any work.
 */
function liveBase(method: Method, c: Ctx): Request {
  return {
    CreateUser: { uid: 'bi-new', name: 'New', metadata: { plan: 'pro' } },
    GetUser: { uid: 'bi-seed' },
    DeleteUser: { uid: 'bi-seed' },
    CreateAuthToken: { uid: 'bi-seed', platform: 'ios', deviceId: 'phone-2', userAgent: 'App/1', appInfo: { v: 1 } },
    ListAuthTokens: { uid: 'bi-seed', pageSize: 1 },
    GetAuthToken: { uid: 'bi-seed', authToken: c.seedTokenId },
    UpdateAuthToken: { uid: 'bi-seed', authToken: c.seedTokenId, platform: 'web', userAgent: 'UA', appInfo: { a: 1 } },
    DeleteAuthToken: { uid: 'bi-seed', authToken: c.seedTokenId },
    FlushAuthTokens: { uid: 'bi-seed' },
    ValidateAuthToken: { authToken: c.seedSecret, platform: 'web', deviceId: 'laptop', userAgent: 'UA', appInfo: { b: 2 } },
    ListArchivedAuthTokens: { uid: 'bi-seed', pageSize: 1 },
  }[method];
}

/** Valid requests that change nothing whatever happens: reads, or writes naming what does not exist. */
function safeBase(method: Method, c: Ctx): Request {
  return {
    CreateUser: { uid: 'bi-seed', name: 'Seed again' },
    GetUser: { uid: 'bi-seed' },
    DeleteUser: { uid: 'bi-ghost' },
    CreateAuthToken: { uid: 'bi-ghost', platform: 'ios' },
    ListAuthTokens: { uid: 'bi-seed' },
    GetAuthToken: { uid: 'bi-seed', authToken: c.seedTokenId },
    UpdateAuthToken: { uid: 'bi-ghost', authToken: c.seedTokenId, platform: 'web' },
    DeleteAuthToken: { uid: 'bi-ghost', authToken: c.seedTokenId },
    FlushAuthTokens: { uid: 'bi-ghost' },
    ValidateAuthToken: { authToken: c.forgedSeed },
    ListArchivedAuthTokens: { uid: 'bi-seed' },
  }[method];
}

// ---------------------------------------------------------------------------------------------
// Cases

export interface Expected {
  code: status;
  reason?: string;
  /** BadRequest field violations, by field name; '' is "not a valid protobuf message". */
  fields?: string[];
}

export interface Case {
  id: string;
  method: Method;
  category: string;
  expected: Expected;
  /** The request as a message, for the generated client (content-level cases). */
  typed?: (c: Ctx) => Request;
  /** The protobuf bytes (raw frame and pass-through client). Default: the typed request, encoded. */
  bytes?: (c: Ctx) => Buffer;
  /** A whole HTTP/2 request body instead of one frame of `bytes` (frame-level cases, raw only). */
  body?: (c: Ctx) => Buffer;
  /** The authorization header value; null sends none. Default: the configured key. */
  authorization?: string | null;
}

const bad = (...fields: string[]): Expected => ({ code: status.INVALID_ARGUMENT, reason: 'ERR_BAD_REQUEST', fields });
const UNDECODABLE = bad('');
const UID_NOT_FOUND: Expected = { code: status.NOT_FOUND, reason: 'ERR_UID_NOT_FOUND' };
const TOKEN_NOT_FOUND: Expected = { code: status.NOT_FOUND, reason: 'ERR_AUTH_TOKEN_NOT_FOUND' };
const NO_KEY: Expected = { code: status.UNAUTHENTICATED, reason: 'AUTH_ERR_APIKEY_NOT_FOUND' };
const TOO_LARGE: Expected = { code: status.RESOURCE_EXHAUSTED };
const CARDINALITY: Expected = { code: status.UNIMPLEMENTED };
const OK: Expected = { code: status.OK };

/** What the safe base gets when it is decoded as intended (a defect that is skipped leaves this). */
function safeOutcome(method: Method): Expected {
  switch (method) {
    case 'CreateUser':
      return { code: status.ALREADY_EXISTS, reason: 'ERR_UID_ALREADY_EXISTS' };
    case 'GetUser':
    case 'ListAuthTokens':
    case 'GetAuthToken':
    case 'ListArchivedAuthTokens':
      return OK;
    case 'ValidateAuthToken':
      return TOKEN_NOT_FOUND;
    default:
      return UID_NOT_FOUND;
  }
}

/** The base request without one field (set to its default, so it is not encoded), plus raw bytes. */
function without(method: Method, base: Request, field: string, ...extra: Buffer[]): Buffer {
  const isMessage = field === 'metadata' || field === 'appInfo' || field === 'updateMask';
  return Buffer.concat([encode(method, { ...base, [field]: isMessage ? undefined : '' }), ...extra]);
}

// ---------------------------------------------------------------------------------------------
// Cases, section by section

// 1. Invalid UTF-8 in every string field, in Struct keys and values, and in update_mask paths.
function badUtf8(): Case[] {
  const cases: Case[] = [];
  for (const method of METHOD_NAMES) {
    for (const [field, number] of Object.entries(STRING_FIELDS[method])) {
      for (const [name, seq] of Object.entries(BAD_UTF8)) {
        cases.push({
          id: `${method}: ${field} with invalid UTF-8 (${name})`,
          method,
          category: 'bad UTF-8',
          expected: UNDECODABLE,
          bytes: (c) => {
            const base = liveBase(method, c);
            const value = Buffer.concat([Buffer.from(String(base[field] || 'x')), Buffer.from(seq)]);
            return without(method, base, field, lenField(number, value));
          },
        });
      }
    }
    const struct = STRUCT_FIELDS[method];
    if (struct) {
      const [field, number] = struct;
      for (const [name, seq] of Object.entries(BAD_UTF8)) {
        cases.push({
          id: `${method}: ${field} with an invalid UTF-8 key (${name})`,
          method,
          category: 'bad UTF-8',
          expected: UNDECODABLE,
          bytes: (c) => without(method, liveBase(method, c), field, lenField(number, structBytes(Buffer.from([0x6b, ...seq]), 'v'))),
        });
        cases.push({
          id: `${method}: ${field} with an invalid UTF-8 string value (${name})`,
          method,
          category: 'bad UTF-8',
          expected: UNDECODABLE,
          bytes: (c) => without(method, liveBase(method, c), field, lenField(number, structBytes('k', Buffer.from([0x76, ...seq])))),
        });
      }
    }
  }
  for (const [name, seq] of Object.entries(BAD_UTF8)) {
    cases.push({
      id: `UpdateAuthToken: update_mask path with invalid UTF-8 (${name})`,
      method: 'UpdateAuthToken',
      category: 'bad UTF-8',
      expected: UNDECODABLE,
      bytes: (c) => without('UpdateAuthToken', liveBase('UpdateAuthToken', c), 'updateMask', lenField(6, lenField(1, Buffer.from([0x70, ...seq])))),
    });
  }
  return cases;
}

// 2. The required field with another wire type: parsers skip it as unknown, so it is missing.
function wrongWireTypes(): Case[] {
  const cases: Case[] = [];
  for (const method of METHOD_NAMES) {
    const [field, number, protoName] = REQUIRED[method];
    const wrong: Record<string, Buffer> = {
      'a varint': varintField(number, 12345),
      'a 64-bit fixed value': i64Field(number),
      'a 32-bit fixed value': i32Field(number),
      'a group': groupField(number, lenField(1, 'bi-seed')),
    };
    for (const [name, encoded] of Object.entries(wrong)) {
      cases.push({
        id: `${method}: ${protoName} sent as ${name}`,
        method,
        category: 'wrong wire type',
        expected: bad(protoName),
        bytes: (c) => without(method, liveBase(method, c), field, encoded),
      });
    }
  }
  return cases;
}

// 3. Broken wire format, appended to an otherwise valid request that changes nothing. A strict
// parser (protobuf C++, Go's protowire) rejects every one of these. (The generated ts-proto
// decoders stop at a tag 0 or an END_GROUP, skip groups without matching their end, skip varints of
// any length and let a nested message read past its declared length: those cases fail today.)
const MALFORMED: Record<string, Buffer> = {
  'wire type 6': Buffer.concat([tag(20, 6), Buffer.from([1, 2, 3])]),
  'wire type 7': Buffer.concat([tag(1, 7), Buffer.from([1, 2, 3])]),
  'a group that never ends': Buffer.concat([tag(20, WIRE.SGROUP), varintField(1, 1)]),
  'a group ended by another field number': Buffer.concat([tag(20, WIRE.SGROUP), varintField(1, 1), tag(21, WIRE.EGROUP)]),
  'a tag and nothing more': tag(20, WIRE.LEN),
  'a truncated length varint': Buffer.concat([tag(20, WIRE.LEN), Buffer.from([0x80])]),
  'a length beyond the payload': Buffer.concat([tag(20, WIRE.LEN), varint(16), Buffer.from('abc')]),
  'a length of 2^32-1': Buffer.concat([tag(20, WIRE.LEN), varint(0xffffffff), Buffer.from('abc')]),
  'a truncated tag varint': Buffer.from([0x80]),
  'a truncated value varint': Buffer.concat([tag(20, WIRE.VARINT), Buffer.from([0xff, 0xff])]),
  'a truncated 64-bit value': Buffer.concat([tag(20, WIRE.I64), Buffer.from([1, 2, 3])]),
  'an 11-byte varint': Buffer.concat([tag(20, WIRE.VARINT), Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01])]),
  // Field number 0 is illegal (protobuf's smallest is 1); strict parsers reject the message.
  'field number 0 (varint), then garbage': Buffer.concat([Buffer.from([0x00]), Buffer.from([0xff, 0xff, 0xff])]),
  'field number 0 (length-delimited)': Buffer.concat([tag(0, WIRE.LEN), varint(3), Buffer.from('abc')]),
  // Field numbers stop at 2^29-1.
  'field number 2^29': Buffer.concat([tag(2 ** 29, WIRE.VARINT), varint(1)]),
  // An END_GROUP that closes nothing.
  'a stray end-group tag, then garbage': Buffer.concat([tag(1, WIRE.EGROUP), Buffer.from([0xff, 0xff, 0xff])]),
};
/** Also the Struct-specific ones: declared lengths that lie, and nesting beyond the recursion limit. */
function malformedWireFormat(): Case[] {
  const cases: Case[] = [];
  for (const method of METHOD_NAMES) {
    for (const [name, defect] of Object.entries(MALFORMED)) {
      cases.push({
        id: `${method}: valid request followed by ${name}`,
        method,
        category: 'malformed wire format',
        expected: UNDECODABLE,
        bytes: (c) => Buffer.concat([encode(method, safeBase(method, c)), defect]),
      });
    }
    cases.push({
      id: `${method}: valid request cut short by one byte`,
      method,
      category: 'malformed wire format',
      expected: UNDECODABLE,
      bytes: (c) => {
        const full = encode(method, safeBase(method, c));
        return full.subarray(0, full.length - 1);
      },
    });
    const struct = STRUCT_FIELDS[method];
    if (struct) {
      const [field, number] = struct;
      const inner = structBytes('key', 'value-value');
      cases.push({
        id: `${method}: ${field} declared longer than the message`,
        method,
        category: 'malformed wire format',
        expected: UNDECODABLE,
        bytes: (c) => without(method, safeBase(method, c), field, tag(number, WIRE.LEN), varint(inner.length + 5), inner),
      });
      cases.push({
        // The Struct's entry runs past the Struct's own declared end: a strict parser fails there.
        id: `${method}: ${field} whose content runs past its declared length`,
        method,
        category: 'malformed wire format',
        expected: UNDECODABLE,
        bytes: (c) => without(method, safeBase(method, c), field, tag(number, WIRE.LEN), varint(2), inner),
      });
      cases.push({
        id: `${method}: ${field} nested 200 levels deep (beyond the decoder's recursion limit)`,
        method,
        category: 'huge struct',
        expected: UNDECODABLE,
        bytes: (c) => {
          let nested = structBytes('leaf', 'x');
          for (let i = 0; i < 200; i++) nested = lenField(1, Buffer.concat([lenField(1, 'k'), lenField(2, lenField(5, nested))]));
          return without(method, liveBase(method, c), field, lenField(number, nested));
        },
      });
    }
  }
  return cases;
}

// 4. Messages over the 64 KiB receive limit (grpc-js: RESOURCE_EXHAUSTED), and one exactly at it.
function padTo(method: Method, request: Request, field: string, total: number): Request {
  const base = encode(method, { ...request, [field]: '' }).length;
  // tag (1 byte) + length varint (3 bytes for these sizes) + payload.
  return { ...request, [field]: 'n'.repeat(total - base - 1 - 3) };
}
function oversize(): Case[] {
  const cases: Case[] = [];
  cases.push(
    {
      id: 'CreateUser: a message of exactly 64 KiB (within the limit: its 100-character name rule applies)',
      method: 'CreateUser',
      category: 'oversize',
      expected: bad('name'),
      typed: () => padTo('CreateUser', { uid: 'bi-big' }, 'name', MAX_MESSAGE),
    },
    {
      id: 'CreateUser: a message of 64 KiB + 1 byte',
      method: 'CreateUser',
      category: 'oversize',
      expected: TOO_LARGE,
      typed: () => padTo('CreateUser', { uid: 'bi-big' }, 'name', MAX_MESSAGE + 1),
    },
    {
      id: 'CreateAuthToken: a 1 MiB user_agent',
      method: 'CreateAuthToken',
      category: 'oversize',
      expected: TOO_LARGE,
      typed: () => ({ uid: 'bi-seed', userAgent: 'u'.repeat(1024 * 1024) }),
    },
    {
      id: 'ValidateAuthToken: a 300 KiB app_info',
      method: 'ValidateAuthToken',
      category: 'oversize',
      expected: TOO_LARGE,
      typed: (c) => ({ authToken: c.seedSecret, appInfo: { blob: 'b'.repeat(300 * 1024) } }),
    },
    {
      id: 'GetUser: a 300 KiB unknown field',
      method: 'GetUser',
      category: 'oversize',
      expected: TOO_LARGE,
      bytes: () => Buffer.concat([lenField(1, 'bi-seed'), lenField(99, Buffer.alloc(300 * 1024))]),
    },
    {
      id: 'GetUser: a frame header declaring 300 KiB (10 bytes sent)',
      method: 'GetUser',
      category: 'oversize',
      expected: TOO_LARGE,
      body: () => grpcFrame(Buffer.alloc(10), 300 * 1024),
    },
  );
  return cases;
}

// 5. Frames that do not carry exactly one message (raw HTTP/2 only).
function frameCardinality(): Case[] {
  const cases: Case[] = [];
  for (const method of METHOD_NAMES) {
    const frames: Record<string, (c: Ctx) => Buffer> = {
      'an empty body': () => Buffer.alloc(0),
      'half a frame header': () => Buffer.from([0, 0, 0]),
      'a frame declaring more bytes than sent': (c) => {
        const payload = encode(method, liveBase(method, c));
        return grpcFrame(payload, payload.length + 10);
      },
      'two messages': (c) => Buffer.concat([grpcFrame(encode(method, liveBase(method, c))), grpcFrame(encode(method, liveBase(method, c)))]),
    };
    for (const [name, body] of Object.entries(frames)) {
      cases.push({ id: `${method}: ${name}`, method, category: 'frame cardinality', expected: CARDINALITY, body });
    }
  }
  return cases;
}

// 6. Invalid uids, everywhere a uid goes (each with otherwise valid, data-changing content).
const INVALID_UIDS: Record<string, string> = {
  empty: '',
  'a space': ' ',
  'inner space': 'a b',
  'a non-ASCII letter': 'ä',
  '101 characters': 'x'.repeat(101),
  'a slash': 'a/b',
  'a dot': 'a.b',
  'a path': '../etc',
  'an emoji': '😀',
  'a NUL': 'a\u0000b',
  'a newline': 'a\nb',
  'a query operator': '$gt',
  'JSON': '{"$ne":null}',
  'a trailing space': 'bi-seed ',
  'dotted capital I (lower-cases to two characters)': 'İ',
  // KELVIN SIGN lower-cases to "k": checked after lower-casing, it would name the user "kelvin".
  'with KELVIN SIGN (lower-cases into ASCII)': '\u212Aelvin',
};
function invalidUids(): Case[] {
  const cases: Case[] = [];
  for (const method of UID_METHODS) {
    for (const [name, uid] of Object.entries(INVALID_UIDS)) {
      cases.push({
        id: `${method}: uid ${name}`,
        method,
        category: 'invalid uid',
        expected: bad('uid'),
        typed: (c) => ({ ...liveBase(method, c), uid }),
      });
    }
  }
  return cases;
}

// 7. Field rules: names, short texts, JSON objects, page sizes and tokens, masks.
const bigObject = (bytes: number) => ({ blob: 'x'.repeat(bytes) });
const manyKeys = () => Object.fromEntries(Array.from({ length: 2_000 }, (_, i) => [`k${i}`, i]));
const FIELD_RULES: [Method, string, (c: Ctx) => Request, Expected][] = [
  ['CreateUser', 'name empty', () => ({ uid: 'bi-new' }), bad('name')],
  ['CreateUser', 'name blank', () => ({ uid: 'bi-new', name: '   ' }), bad('name')],
  ['CreateUser', 'name of 101 characters', () => ({ uid: 'bi-new', name: 'n'.repeat(101) }), bad('name')],
  ['CreateUser', 'name of 101 emoji', () => ({ uid: 'bi-new', name: '😀'.repeat(101) }), bad('name')],
  ['CreateUser', 'metadata over 5 KB', () => ({ uid: 'bi-new', name: 'N', metadata: bigObject(6000) }), bad('metadata')],
  ['CreateUser', 'metadata with 2,000 keys', () => ({ uid: 'bi-new', name: 'N', metadata: manyKeys() }), bad('metadata')],
  ['CreateUser', 'every field invalid at once', () => ({ uid: 'Not a uid!', name: '', metadata: bigObject(6000) }), bad('uid', 'name', 'metadata')],
  ['CreateAuthToken', 'platform of 256 characters', () => ({ uid: 'bi-seed', platform: 'p'.repeat(256) }), bad('platform')],
  ['CreateAuthToken', 'device_id of 256 characters', () => ({ uid: 'bi-seed', deviceId: 'd'.repeat(256) }), bad('device_id')],
  ['CreateAuthToken', 'user_agent of 256 characters', () => ({ uid: 'bi-seed', userAgent: 'u'.repeat(256) }), bad('user_agent')],
  ['CreateAuthToken', 'user_agent of 256 emoji', () => ({ uid: 'bi-seed', userAgent: '😀'.repeat(256) }), bad('user_agent')],
  ['CreateAuthToken', 'app_info over 5 KB', () => ({ uid: 'bi-seed', appInfo: bigObject(6000) }), bad('app_info')],
  ['CreateAuthToken', 'app_info with 2,000 keys', () => ({ uid: 'bi-seed', appInfo: manyKeys() }), bad('app_info')],
  ['CreateAuthToken', 'every field invalid at once', () => ({ uid: '', platform: 'p'.repeat(256), deviceId: 'd'.repeat(256), userAgent: 'u'.repeat(256), appInfo: bigObject(6000) }), bad('uid', 'platform', 'device_id', 'user_agent', 'app_info')],
  ['ListAuthTokens', 'page_size -1', () => ({ uid: 'bi-seed', pageSize: -1 }), bad('page_size')],
  ['ListAuthTokens', 'page_size -2^31', () => ({ uid: 'bi-seed', pageSize: -2147483648 }), bad('page_size')],
  ['ListAuthTokens', 'page_token garbage', () => ({ uid: 'bi-seed', pageToken: 'garbage' }), bad('page_token')],
  ['ListAuthTokens', 'page_token not base64', () => ({ uid: 'bi-seed', pageToken: '!!!***' }), bad('page_token')],
  ['ListAuthTokens', 'page_token of another uid', (c) => ({ uid: 'bi-other', pageToken: c.tokensPageToken }), bad('page_token')],
  ['ListAuthTokens', 'page_token of the archive listing', (c) => ({ uid: 'bi-seed', pageToken: c.archivePageToken }), bad('page_token')],
  ['ListAuthTokens', 'page_token with a time that is not an integer', () => ({ uid: 'bi-seed', pageToken: pageToken({ v: 1, l: 'tokens', u: 'bi-seed', t: 1.5, i: 'tid_x' }) }), bad('page_token')],
  ['ListAuthTokens', 'page_token with an object id', () => ({ uid: 'bi-seed', pageToken: pageToken({ v: 1, l: 'tokens', u: 'bi-seed', t: 1, i: { $gt: '' } }) }), bad('page_token')],
  ['ListAuthTokens', 'page_token of version 2', () => ({ uid: 'bi-seed', pageToken: pageToken({ v: 2, l: 'tokens', u: 'bi-seed', t: 1, i: 'tid_x' }) }), bad('page_token')],
  ['ListArchivedAuthTokens', 'page_size -1', () => ({ uid: 'bi-seed', pageSize: -1 }), bad('page_size')],
  ['ListArchivedAuthTokens', 'page_token garbage', () => ({ uid: 'bi-seed', pageToken: 'garbage' }), bad('page_token')],
  ['ListArchivedAuthTokens', 'page_token of the tokens listing', (c) => ({ uid: 'bi-seed', pageToken: c.tokensPageToken }), bad('page_token')],
  ['ListArchivedAuthTokens', 'page_token of another uid', (c) => ({ uid: 'bi-other', pageToken: c.archivePageToken }), bad('page_token')],
  ['ListArchivedAuthTokens', 'page_token with an id of 65 characters', () => ({ uid: 'bi-seed', pageToken: pageToken({ v: 1, l: 'archive', u: 'bi-seed', t: 1, i: 'i'.repeat(65) }) }), bad('page_token')],
  ['UpdateAuthToken', 'update_mask path uid', (c) => ({ uid: 'bi-seed', authToken: c.seedTokenId, updateMask: ['uid'] }), bad('update_mask')],
  ['UpdateAuthToken', 'update_mask path token_id', (c) => ({ uid: 'bi-seed', authToken: c.seedTokenId, updateMask: ['token_id'] }), bad('update_mask')],
  ['UpdateAuthToken', 'update_mask path device_id', (c) => ({ uid: 'bi-seed', authToken: c.seedTokenId, deviceId: 'x', updateMask: ['device_id'] }), bad('update_mask')],
  ['UpdateAuthToken', 'update_mask path in camelCase', (c) => ({ uid: 'bi-seed', authToken: c.seedTokenId, userAgent: 'x', updateMask: ['userAgent'] }), bad('update_mask')],
  ['UpdateAuthToken', 'update_mask with a valid and an unknown path', (c) => ({ uid: 'bi-seed', authToken: c.seedTokenId, platform: 'x', updateMask: ['platform', 'hash'] }), bad('update_mask')],
  ['UpdateAuthToken', 'update_mask path tokens.$', (c) => ({ uid: 'bi-seed', authToken: c.seedTokenId, updateMask: ['tokens.$'] }), bad('update_mask')],
  ['UpdateAuthToken', 'platform of 256 characters', (c) => ({ uid: 'bi-seed', authToken: c.seedTokenId, platform: 'p'.repeat(256) }), bad('platform')],
  ['UpdateAuthToken', 'user_agent of 256 characters', (c) => ({ uid: 'bi-seed', authToken: c.seedTokenId, userAgent: 'u'.repeat(256) }), bad('user_agent')],
  ['UpdateAuthToken', 'app_info over 5 KB', (c) => ({ uid: 'bi-seed', authToken: c.seedTokenId, appInfo: bigObject(6000) }), bad('app_info')],
  ['ValidateAuthToken', 'platform of 256 characters', (c) => ({ authToken: c.seedSecret, platform: 'p'.repeat(256) }), bad('platform')],
  ['ValidateAuthToken', 'device_id of 256 characters', (c) => ({ authToken: c.seedSecret, deviceId: 'd'.repeat(256) }), bad('device_id')],
  ['ValidateAuthToken', 'user_agent of 256 characters', (c) => ({ authToken: c.seedSecret, userAgent: 'u'.repeat(256) }), bad('user_agent')],
  ['ValidateAuthToken', 'app_info over 5 KB', (c) => ({ authToken: c.seedSecret, appInfo: bigObject(6000) }), bad('app_info')],
  ['ValidateAuthToken', 'app_info with 2,000 keys', (c) => ({ authToken: c.seedSecret, appInfo: manyKeys() }), bad('app_info')],
];
function fieldRules(): Case[] {
  const cases: Case[] = [];
  for (const [method, name, typed, expected] of FIELD_RULES) {
    cases.push({ id: `${method}: ${name}`, method, category: 'field rules', expected, typed });
  }
  return cases;
}

function pageToken(body: object): string {
  return Buffer.from(JSON.stringify(body), 'utf8').toString('base64url');
}

// 7b. Struct content the decoder would not read exactly as sent: each would be dropped, merged
// or turned into something else, so each is refused, naming the field (the size limit is then
// measured on everything that was sent).
const INEXACT_STRUCTS: Record<string, () => Buffer> = {
  'a "__proto__" key': () => entry('__proto__', value.number(1)),
  'a "__proto__" key in a nested struct': () => entry('a', value.struct(entry('__proto__', value.string('x')))),
  'a "__proto__" key in a struct in a list': () => entry('a', value.list(value.struct(entry('__proto__', value.number(1))))),
  'NaN': () => entry('n', value.number(NaN)),
  'Infinity': () => entry('n', value.number(Infinity)),
  '-Infinity in a list': () => entry('n', value.list(value.number(1), value.number(-Infinity))),
  '-0': () => entry('n', value.number(-0)),
  'a value with no kind set': () => entry('a', value.none()),
  'an entry with no value': () => lenField(1, lenField(1, 'a')),
  // Measured after dropping them, these 4,000 entries (~40 KB) used to weigh 2 bytes of JSON.
  '4,000 values with no kind set': () => Buffer.concat(Array.from({ length: 4000 }, (_, i) => entry(`k${i}`, value.none()))),
  'a value with two kinds': () => entry('a', Buffer.concat([value.string('x'), value.number(1)])),
  'a value with its kind twice': () => entry('a', Buffer.concat([value.string('x'), value.string('y')])),
  'a key twice': () => Buffer.concat([entry('a', value.number(1)), entry('a', value.number(2))]),
  'an unknown field in a Value': () => entry('a', Buffer.concat([value.string('x'), varintField(9, 1)])),
  'an unknown field in the Struct': () => Buffer.concat([entry('a', value.number(1)), varintField(2, 1)]),
  'an unknown field in a ListValue': () => entry('a', lenField(6, Buffer.concat([lenField(1, value.number(1)), varintField(2, 1)]))),
};
function inexactStructs(): Case[] {
  const cases: Case[] = [];
  for (const method of METHOD_NAMES) {
    const struct = STRUCT_FIELDS[method];
    if (!struct) continue;
    const [field, number] = struct;
    const protoName = field === 'appInfo' ? 'app_info' : field;
    for (const [name, content] of Object.entries(INEXACT_STRUCTS)) {
      cases.push({
        id: `${method}: ${protoName} with ${name}`,
        method,
        category: 'inexact struct',
        expected: bad(protoName),
        bytes: (c) => without(method, liveBase(method, c), field, lenField(number, content())),
      });
    }
    cases.push({
      id: `${method}: ${protoName} sent twice, with the same key in both (they would merge)`,
      method,
      category: 'inexact struct',
      expected: bad(protoName),
      bytes: (c) =>
        without(method, liveBase(method, c), field, lenField(number, entry('a', value.number(1))), lenField(number, entry('a', value.number(2)))),
    });
  }
  return cases;
}

// 8. Forged, truncated and wrong-checksum tokens; token ids; tokens of others.
const flipLast = (s: string) => s.slice(0, -1) + (s.endsWith('A') ? 'B' : 'A');
/** Changes one character of the 30 random ones: the checksum no longer matches. */
const flipRandom = (s: string) => {
  const at = s.length - 10;
  return s.slice(0, at) + (s[at] === 'A' ? 'B' : 'A') + s.slice(at + 1);
};
const randomBase62 = (n: number) => Array.from({ length: n }, (_, i) => 'abcXYZ0123456789'[(i * 7) % 16]).join('');
const MALFORMED_REFS: Record<string, (c: Ctx) => string> = {
  'empty': () => '',
  'a bad checksum': () => `cat_bi-seed_${randomBase62(36)}`,
  'the last character changed': (c) => flipLast(c.seedSecret),
  'a random character changed': (c) => flipRandom(c.seedSecret),
  'one character missing': (c) => c.seedSecret.slice(0, -1),
  'one character more': (c) => `${c.seedSecret}x`,
  'in upper case': (c) => c.seedSecret.toUpperCase(),
  'with a leading space': (c) => ` ${c.seedSecret}`,
  'with another prefix': (c) => `cak_${c.seedSecret.slice(4)}`,
  'only the prefix': () => 'cat_',
  'a token_id one character short': (c) => c.seedTokenId.slice(0, -1),
  'a token_id one character long': (c) => `${c.seedTokenId}x`,
  'a token_id with a dash': (c) => `${c.seedTokenId.slice(0, -1)}-`,
  'an API key': () => KEY,
};
const UNKNOWN_REFS: Record<string, [(c: Ctx) => string, Expected]> = {
  'a forged token with a valid checksum': [(c) => c.forgedSeed, TOKEN_NOT_FOUND],
  "a forged token (valid checksum) of a uid that doesn't exist": [(c) => c.forgedGhost, TOKEN_NOT_FOUND],
  'an unknown well-formed token_id': [() => `tid_${randomBase62(22)}`, TOKEN_NOT_FOUND],
  "another user's secret": [(c) => c.otherSecret, TOKEN_NOT_FOUND],
  "another user's token_id": [(c) => c.otherTokenId, TOKEN_NOT_FOUND],
  'an archived secret': [(c) => c.archivedSecret, TOKEN_NOT_FOUND],
  'an archived token_id': [(c) => c.archivedTokenId, TOKEN_NOT_FOUND],
};
/** Tokens sent where a token is named (Get/Update/DeleteAuthToken). */
function tokenRefs(): Case[] {
  const cases: Case[] = [];
  for (const method of TOKEN_REF_METHODS) {
    for (const [name, ref] of Object.entries(MALFORMED_REFS)) {
      cases.push({
        id: `${method}: auth_token ${name}`,
        method,
        category: 'bad token',
        expected: bad('auth_token'),
        typed: (c) => ({ ...liveBase(method, c), authToken: ref(c) }),
      });
    }
    for (const [name, [ref, expected]] of Object.entries(UNKNOWN_REFS)) {
      cases.push({
        id: `${method}: auth_token ${name}`,
        method,
        category: 'unknown token',
        expected,
        typed: (c) => ({ ...liveBase(method, c), authToken: ref(c) }),
      });
    }
    cases.push({
      id: `${method}: a real token of a uid that does not exist`,
      method,
      category: 'unknown uid',
      expected: UID_NOT_FOUND,
      typed: (c) => ({ ...liveBase(method, c), uid: 'bi-ghost' }),
    });
  }
  return cases;
}

const VALIDATE_UNKNOWN: Record<string, (c: Ctx) => string> = {
  'a forged token with a valid checksum': (c) => c.forgedSeed,
  "a forged token (valid checksum) of a uid that doesn't exist": (c) => c.forgedGhost,
  'an archived secret': (c) => c.archivedSecret,
};
/** Tokens sent to ValidateAuthToken. */
function validateTokens(): Case[] {
  const cases: Case[] = [];
  for (const [name, ref] of Object.entries(MALFORMED_REFS)) {
    cases.push({
      id: `ValidateAuthToken: auth_token ${name}`,
      method: 'ValidateAuthToken',
      category: 'bad token',
      expected: bad('auth_token'),
      typed: (c) => ({ ...liveBase('ValidateAuthToken', c), authToken: ref(c) }),
    });
  }
  for (const [name, ref] of Object.entries(VALIDATE_UNKNOWN)) {
    cases.push({
      id: `ValidateAuthToken: auth_token ${name}`,
      method: 'ValidateAuthToken',
      category: 'unknown token',
      expected: TOKEN_NOT_FOUND,
      typed: (c) => ({ ...liveBase('ValidateAuthToken', c), authToken: ref(c) }),
    });
  }
  cases.push({
    id: 'ValidateAuthToken: a token_id instead of the secret',
    method: 'ValidateAuthToken',
    category: 'bad token',
    expected: bad('auth_token'),
    typed: (c) => ({ authToken: c.seedTokenId }),
  });
  return cases;
}

// 9. Well-formed requests naming users that do not exist.
function unknownUids(): Case[] {
  const cases: Case[] = [];
  for (const method of ['GetUser', 'DeleteUser', 'CreateAuthToken', 'ListAuthTokens', 'FlushAuthTokens', 'ListArchivedAuthTokens'] as const) {
    for (const uid of ['bi-ghost', 'BI-GHOST']) {
      cases.push({ id: `${method}: unknown uid ${uid}`, method, category: 'unknown uid', expected: UID_NOT_FOUND, typed: () => ({ uid }) });
    }
  }
  return cases;
}

// 10. Unknown fields: with invalid content (INVALID_ARGUMENT), with unknown users (NOT_FOUND).
const UNKNOWN_FIELDS: Record<string, Buffer> = {
  'varint field 15': varintField(15, 7),
  'length-delimited field 99': lenField(99, 'surprise'),
  'fixed32 field 2^29-1 (the largest)': i32Field(2 ** 29 - 1),
  'a group, field 1000': groupField(1000),
  'fixed64 field 19000 (reserved range)': i64Field(19000),
};
function unknownFields(): Case[] {
  const cases: Case[] = [];
  for (const method of METHOD_NAMES) {
    const [field, , protoName] = REQUIRED[method];
    for (const [name, unknown] of Object.entries(UNKNOWN_FIELDS)) {
      cases.push({
        id: `${method}: unknown ${name} with an invalid ${protoName}`,
        method,
        category: 'unknown field + invalid',
        expected: bad(protoName),
        bytes: (c) => Buffer.concat([unknown, encode(method, { ...liveBase(method, c), [field]: field === 'uid' ? 'Not a uid!' : 'cat_nope' }), unknown]),
      });
    }
  }
  for (const method of ['DeleteUser', 'CreateAuthToken', 'UpdateAuthToken', 'DeleteAuthToken', 'FlushAuthTokens', 'ValidateAuthToken'] as const) {
    for (const [name, unknown] of Object.entries(UNKNOWN_FIELDS)) {
      cases.push({
        id: `${method}: unknown ${name}, naming what does not exist`,
        method,
        category: 'unknown field + not found',
        expected: safeOutcome(method),
        bytes: (c) => Buffer.concat([encode(method, safeBase(method, c)), unknown]),
      });
    }
  }
  return cases;
}

// 11. No key, or an unknown one: UNAUTHENTICATED before anything else, even for undecodable bodies.
function noKey(): Case[] {
  const cases: Case[] = [];
  for (const method of METHOD_NAMES) {
    for (const [name, authorization] of [
      ['no key', null],
      ['an unknown key', `Bearer ${generateApiKey()}`],
    ] as const) {
      cases.push({
        id: `${method}: ${name}, undecodable body`,
        method,
        category: 'no key',
        expected: NO_KEY,
        authorization,
        bytes: () => Buffer.concat([tag(1, 7), Buffer.from([0xff, 0xff])]),
      });
      cases.push({
        id: `${method}: ${name}, data-changing request`,
        method,
        category: 'no key',
        expected: NO_KEY,
        authorization,
        typed: (c) => liveBase(method, c),
      });
    }
  }
  return cases;
}

/** The malformed requests, in the order the test runs them. */
export const corpus: Case[] = [
  ...badUtf8(),
  ...wrongWireTypes(),
  ...malformedWireFormat(),
  ...oversize(),
  ...frameCardinality(),
  ...invalidUids(),
  ...fieldRules(),
  ...inexactStructs(),
  ...tokenRefs(),
  ...validateTokens(),
  ...unknownUids(),
  ...unknownFields(),
  ...noKey(),
];

// Accepted: unknown fields and skipped wire types with valid, read-only content.
function acceptedCases(): Case[] {
  const cases: Case[] = [];
  for (const method of ['GetUser', 'ListAuthTokens', 'GetAuthToken', 'ListArchivedAuthTokens'] as const) {
    for (const [name, unknown] of Object.entries(UNKNOWN_FIELDS)) {
      cases.push({
        id: `${method}: unknown ${name}`,
        method,
        category: 'accepted',
        expected: OK,
        bytes: (c) => Buffer.concat([unknown, encode(method, safeBase(method, c)), unknown]),
      });
    }
  }
  for (const method of ['ListAuthTokens', 'ListArchivedAuthTokens'] as const) {
    cases.push(
      { id: `${method}: page_size sent length-delimited`, method, category: 'accepted', expected: OK, bytes: () => Buffer.concat([lenField(1, 'bi-seed'), lenField(2, 'x')]) },
      { id: `${method}: page_size sent as fixed64`, method, category: 'accepted', expected: OK, bytes: () => Buffer.concat([lenField(1, 'bi-seed'), i64Field(2)]) },
      { id: `${method}: page_token sent as a varint`, method, category: 'accepted', expected: OK, bytes: () => Buffer.concat([lenField(1, 'bi-seed'), varintField(3, 5)]) },
    );
  }
  return cases;
}

/** Well-formed requests with unknown fields (or skipped wire types) and valid read-only content: they succeed. */
export const accepted: Case[] = acceptedCases();
