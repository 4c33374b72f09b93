// Small helpers shared by the e2e test files.
import { status } from '@grpc/grpc-js';
import { expect } from 'vitest';
import type { ArchivedAuthToken, AuthToken } from '../../gen/authtoken/v1/resources';
import type { CreateAuthTokenRequest } from '../../gen/authtoken/v1/auth_token_service';
import { type DecodedError, grpcError } from '../support/grpc-status';
import type { TestService } from '../support/service';

export interface Issued {
  /** The secret ("cat_..."), as only CreateAuthToken returns it. */
  secret: string;
  tokenId: string;
  token: AuthToken;
  evicted: string[];
  replaced: string[];
}

/** What the server offers, as grpcurl lists it by reflection. */
export const SERVED_SERVICES = [
  'authtoken.v1.AuthTokenService',
  'authtoken.v1.UserService',
  'grpc.health.v1.Health',
  'grpc.reflection.v1.ServerReflection',
  'grpc.reflection.v1alpha.ServerReflection',
];

/** Creates a user without a token. */
export async function createUser(svc: TestService, uid: string, name = `User ${uid}`): Promise<void> {
  await svc.users.createUser({ uid, name });
}

/** Issues one token for `uid`. */
export async function issue(
  svc: TestService,
  uid: string,
  request: Partial<Omit<CreateAuthTokenRequest, 'uid'>> = {},
): Promise<Issued> {
  const response = await svc.tokens.createAuthToken({ uid, ...request });
  const token = response.authToken!;
  return {
    secret: token.authToken,
    tokenId: token.tokenId,
    token,
    evicted: response.evictedTokenIds,
    replaced: response.replacedTokenIds,
  };
}

/** Issues `count` tokens one after the other, oldest first. */
export async function issueMany(svc: TestService, uid: string, count: number): Promise<Issued[]> {
  const issued: Issued[] = [];
  for (let i = 0; i < count; i++) issued.push(await issue(svc, uid));
  return issued;
}

/** Every archived token of `uid`, following next_page_token to the end. */
export async function allArchived(svc: TestService, uid: string): Promise<ArchivedAuthToken[]> {
  const all: ArchivedAuthToken[] = [];
  let pageToken = '';
  do {
    const page = await svc.tokens.listArchivedAuthTokens({ uid, pageToken });
    all.push(...page.archivedAuthTokens);
    pageToken = page.nextPageToken;
  } while (pageToken !== '');
  return all;
}

/** token_id -> archive reason, for comparing archive contents regardless of order. */
export function reasonsById(archived: ArchivedAuthToken[]): Record<string, number> {
  return Object.fromEntries(archived.map((a) => [a.authToken!.tokenId, a.reason]));
}

/** Every document of every collection of the service's database, in a stable order. */
export async function snapshot(svc: TestService): Promise<Record<string, unknown[]>> {
  const collections = await svc.db.listCollections({}, { nameOnly: true }).toArray();
  const out: Record<string, unknown[]> = {};
  for (const { name } of collections.sort((a, b) => a.name.localeCompare(b.name))) {
    out[name] = await svc.db.collection(name).find({}).sort({ _id: 1 }).toArray();
  }
  return out;
}

/** Asserts a failed call's status, ErrorInfo reason (domain authtoken.v1) and BadRequest fields, in any order. */
export function expectError(error: DecodedError, code: status, reason: string, fields: string[] = []) {
  expect(error.code).toBe(code);
  expect(error.reason).toBe(reason);
  expect(error.domain).toBe('authtoken.v1');
  expect([...error.fields].sort()).toEqual([...fields].sort());
}

/** Asserts that `secret` does not validate: ERR_AUTH_TOKEN_NOT_FOUND. */
export async function expectNotValid(svc: TestService, secret: string) {
  expectError(await grpcError(svc.tokens.validateAuthToken({ authToken: secret })), status.NOT_FOUND, 'ERR_AUTH_TOKEN_NOT_FOUND');
}

/** Asserts that `secret` validates, as the token `tokenId`. */
export async function expectValid(svc: TestService, secret: string, tokenId: string) {
  const validated = await svc.tokens.validateAuthToken({ authToken: secret });
  expect(validated.authToken!.tokenId).toBe(tokenId);
}

/** The token_ids of `uid`'s active tokens, as the first page of ListAuthTokens lists them (newest first). */
export async function activeIds(svc: TestService, uid: string): Promise<string[]> {
  return (await svc.tokens.listAuthTokens({ uid })).authTokens.map((t) => t.tokenId);
}

/** A JSON object whose serialized form is exactly `bytes` bytes long. */
export function jsonOfBytes(bytes: number): Record<string, string> {
  return { k: 'x'.repeat(bytes - 8) };
}
