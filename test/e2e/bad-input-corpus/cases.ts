// What every section builds on: the configured key, the seeded data a case may name (Ctx), the two
// valid base requests a defect is added to, the Case and Expected shapes, and the usual outcomes.
import { status } from '@grpc/grpc-js';
import { generateApiKey } from '../../../src/domain/api-keys';
import { encode, type Method, type Request } from './methods';

/** The API key the service under test is configured with (also one of the malformed auth_token values). */
export const KEY = generateApiKey();

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
export function liveBase(method: Method, c: Ctx): Request {
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
export function safeBase(method: Method, c: Ctx): Request {
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

export const bad = (...fields: string[]): Expected => ({ code: status.INVALID_ARGUMENT, reason: 'ERR_BAD_REQUEST', fields });
export const UNDECODABLE = bad('');
export const UID_NOT_FOUND: Expected = { code: status.NOT_FOUND, reason: 'ERR_UID_NOT_FOUND' };
export const TOKEN_NOT_FOUND: Expected = { code: status.NOT_FOUND, reason: 'ERR_AUTH_TOKEN_NOT_FOUND' };
export const NO_KEY: Expected = { code: status.UNAUTHENTICATED, reason: 'AUTH_ERR_APIKEY_NOT_FOUND' };
export const TOO_LARGE: Expected = { code: status.RESOURCE_EXHAUSTED };
export const CARDINALITY: Expected = { code: status.UNIMPLEMENTED };
export const OK: Expected = { code: status.OK };

/** What the safe base gets when it is decoded as intended (a defect that is skipped leaves this). */
export function safeOutcome(method: Method): Expected {
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
export function without(method: Method, base: Request, field: string, ...extra: Buffer[]): Buffer {
  const isMessage = field === 'metadata' || field === 'appInfo' || field === 'updateMask';
  return Buffer.concat([encode(method, { ...base, [field]: isMessage ? undefined : '' }), ...extra]);
}
