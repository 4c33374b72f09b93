// A corpus of malformed requests against all 11 methods -- wrong wire types, bad UTF-8, truncated
// and overlong varints and lengths, oversize messages, huge and deep structs, invalid uids, forged,
// truncated and wrong-checksum tokens, bad page tokens and masks, unknown fields, missing keys --
// each sent as a raw gRPC frame over node:http2, through a grpc-js client that sends the bytes as
// they are, and (when it is expressible as a message) through the generated client.
//
// Every case has one exact expected status:
//   INVALID_ARGUMENT (ERR_BAD_REQUEST)  malformed or invalid: undecodable bytes are reported on the
//                                       field "" ("not a valid protobuf message"), invalid values on
//                                       their own field;
//   NOT_FOUND (ERR_UID_NOT_FOUND / ERR_AUTH_TOKEN_NOT_FOUND)  well-formed requests naming unknown
//                                       users or tokens (e.g. a forged token with a valid checksum);
//   UNAUTHENTICATED (AUTH_ERR_APIKEY_NOT_FOUND)  no key or an unknown key, whatever the body;
//   ALREADY_EXISTS (ERR_UID_ALREADY_EXISTS)  only where a well-formed CreateUser names the seeded uid;
//   RESOURCE_EXHAUSTED  messages over the 64 KiB receive limit: grpc-js answers this itself, before
//                       the service sees the call, as gRPC specifies for size limits (no details);
//   UNIMPLEMENTED  a unary call carrying no complete message or two messages: grpc-js's answer to a
//                  request-cardinality violation, which is what gRPC's status-code table specifies.
// Never UNKNOWN or INTERNAL. None may crash the server or change data: after the corpus the server
// answers normally and every collection is byte-for-byte what it was before.
//
// Unknown fields: proto3 parsers skip them, and so does this service. A request with unknown fields
// (or a known field with another wire type, which parsers also skip as unknown) and otherwise
// invalid content is INVALID_ARGUMENT and belongs to the corpus; one with otherwise valid, read-only
// content succeeds. Those are the "accepted" cases, counted apart from the corpus.
//
// The cases themselves, each with its expected status, are in ./bad-input-corpus/; the three
// ways of sending one are in ../support/wire/ (raw-http2.ts, passthrough-client.ts and
// generated-client.ts). This file seeds the data, sends every case each way that can carry it,
// and checks the outcomes and that nothing changed.
import { connect, type ClientHttp2Session } from 'node:http2';
import { Client, credentials, status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { keyEntry } from '../../src/domain/api-keys';
import { issueToken } from '../../src/domain/token-format';
import { bearer, bearerValue } from '../support/grpc-status';
import { startTestService, type TestService } from '../support/service';
import { sendTyped } from '../support/wire/generated-client';
import { grpcFrame } from '../support/wire/grpc-frame';
import type { Outcome } from '../support/wire/outcome';
import { sendBytes } from '../support/wire/passthrough-client';
import { sendRaw } from '../support/wire/raw-http2';
import {
  accepted,
  type Case,
  corpus,
  type Ctx,
  encode,
  type Expected,
  KEY,
  METHOD_NAMES,
  METHODS,
  type Method,
  pathOf,
  type Request,
} from './bad-input-corpus';
import { snapshot } from './helpers';

// ---------------------------------------------------------------------------------------------
// Running a case

/** What a case expects, in the shape of an Outcome (fields only where the case names them). */
function comparable(outcome: Outcome, expected: Expected): Outcome {
  const shown: Outcome = { code: outcome.code };
  if (expected.reason !== undefined || outcome.reason !== undefined) shown.reason = outcome.reason;
  if (expected.fields !== undefined) shown.fields = outcome.fields;
  return shown;
}

let svc: TestService;
let session: ClientHttp2Session;
let passthrough: Client;
let ctx: Ctx;
let before: Awaited<ReturnType<typeof snapshot>>;
/** Every outcome seen, by route, for the summary. */
const seen: { route: string; id: string; code: number }[] = [];

function auth(value: string | null | undefined): string | undefined {
  return value === undefined ? bearerValue(KEY) : (value ?? undefined);
}

/** The three transports, bound to this file's service, connection and clients. */
const send = {
  raw: (method: Method, body: Buffer, authorization: string | undefined) => sendRaw(session, pathOf(method), body, authorization),
  bytes: (method: Method, bytes: Buffer, authorization: string | undefined) => sendBytes(passthrough, pathOf(method), bytes, authorization),
  typed: (method: Method, request: Request, authorization: string | undefined) =>
    sendTyped(
      METHODS[method].service === 'authtoken.v1.UserService' ? svc.users : svc.tokens,
      method[0]!.toLowerCase() + method.slice(1),
      request,
      authorization,
    ),
};

async function runCase(c: Case): Promise<void> {
  const authorization = auth(c.authorization);
  const routes: { route: string; outcome: Outcome }[] = [];
  const bytes = c.bytes ? c.bytes(ctx) : c.typed ? encode(c.method, c.typed(ctx)) : undefined;
  const body = c.body ? c.body(ctx) : grpcFrame(bytes!);
  const raw = await send.raw(c.method, body, authorization);
  expect(raw.httpStatus, 'HTTP status of the raw call').toBe(200);
  routes.push({ route: 'raw HTTP/2 frame', outcome: raw });
  if (bytes && !c.body) routes.push({ route: 'grpc-js client, bytes as they are', outcome: await send.bytes(c.method, bytes, authorization) });
  if (c.typed) routes.push({ route: 'generated client', outcome: await send.typed(c.method, c.typed(ctx), authorization) });
  for (const { route, outcome } of routes) {
    seen.push({ route, id: c.id, code: outcome.code });
    expect(comparable(outcome, c.expected), `${route}: ${c.id}`).toEqual(c.expected);
  }
}

// ---------------------------------------------------------------------------------------------
// Tests

beforeAll(async () => {
  svc = await startTestService({ API_KEYS: keyEntry('corpus', 'full', KEY) });
  session = connect(`http://127.0.0.1:${svc.port}`);
  passthrough = new Client(`127.0.0.1:${svc.port}`, credentials.createInsecure());
  const md = bearer(KEY);

  // bi-seed: 2 active tokens (one per device) and 2 archived; bi-other: 1 active token.
  const seed = await svc.users.createUser({ uid: 'bi-seed', name: 'Seed', metadata: { plan: 'pro' }, withAuthToken: true }, md);
  await svc.tokens.createAuthToken({ uid: 'bi-seed', deviceId: 'phone', platform: 'ios', appInfo: { v: 1 } }, md);
  const doomed = [await svc.tokens.createAuthToken({ uid: 'bi-seed' }, md), await svc.tokens.createAuthToken({ uid: 'bi-seed' }, md)];
  for (const d of doomed) await svc.tokens.deleteAuthToken({ uid: 'bi-seed', authToken: d.authToken!.authToken }, md);
  const other = await svc.users.createUser({ uid: 'bi-other', name: 'Other', withAuthToken: true }, md);
  const tokensPage = await svc.tokens.listAuthTokens({ uid: 'bi-seed', pageSize: 1 }, md);
  const archivePage = await svc.tokens.listArchivedAuthTokens({ uid: 'bi-seed', pageSize: 1 }, md);
  ctx = {
    seedSecret: seed.authToken!.authToken,
    seedTokenId: seed.authToken!.tokenId,
    archivedSecret: doomed[0]!.authToken!.authToken,
    archivedTokenId: doomed[0]!.authToken!.tokenId,
    otherSecret: other.authToken!.authToken,
    otherTokenId: other.authToken!.tokenId,
    forgedSeed: issueToken('bi-seed').token,
    forgedGhost: issueToken('bi-ghost').token,
    tokensPageToken: tokensPage.nextPageToken,
    archivePageToken: archivePage.nextPageToken,
  };
  expect(ctx.tokensPageToken).not.toBe('');
  expect(ctx.archivePageToken).not.toBe('');
  before = await snapshot(svc);
});

afterAll(async () => {
  passthrough?.close();
  session?.close();
  await svc?.stop();
});

test('the corpus: at least 200 distinct malformed requests, over all 11 methods', () => {
  const ids = corpus.map((c) => c.id);
  expect(new Set(ids).size).toBe(ids.length);
  // Distinct as sent: the HTTP/2 body (frame included) and the authorization header.
  const sent = (c: Case) => (c.body ? c.body(ctx) : grpcFrame(c.bytes ? c.bytes(ctx) : encode(c.method, c.typed!(ctx))));
  const bodies = corpus.map((c) => `${c.method} ${c.authorization ?? ''} ${sent(c).toString('hex')}`);
  const dup = corpus.filter((_, i) => bodies.indexOf(bodies[i]!) !== i).map((c) => c.id);
  expect(dup).toEqual([]);
  expect(corpus.length).toBeGreaterThanOrEqual(200);
  for (const method of METHOD_NAMES) expect(corpus.filter((c) => c.method === method).length, method).toBeGreaterThanOrEqual(40);
});

describe.each([...new Set(corpus.map((c) => c.category))])('%s', (category) => {
  test.each(corpus.filter((c) => c.category === category))('$id', (c) => runCase(c));
});

describe('accepted: unknown fields and skipped wire types with valid read-only content succeed', () => {
  test.each(accepted)('$id', (c) => runCase(c));
});

describe('after the corpus', () => {
  test('no call ended UNKNOWN or INTERNAL', () => {
    expect(seen.length).toBeGreaterThanOrEqual(corpus.length + accepted.length);
    expect(seen.filter((s) => s.code === status.UNKNOWN || s.code === status.INTERNAL)).toEqual([]);
  });

  test('the server still answers normally, on the same HTTP/2 connection and through the clients', async () => {
    const raw = await send.raw('GetUser', grpcFrame(encode('GetUser', { uid: 'bi-seed' })), bearerValue(KEY));
    expect(raw).toMatchObject({ httpStatus: 200, code: status.OK });
    const md = bearer(KEY);
    await expect(svc.users.getUser({ uid: 'bi-seed' }, md)).resolves.toMatchObject({ uid: 'bi-seed', name: 'Seed' });
    const list = await svc.tokens.listAuthTokens({ uid: 'bi-seed' }, md);
    expect(list.totalSize).toBe(2);
  });

  test('no data changed: every collection is what it was before the corpus', async () => {
    const after = await snapshot(svc);
    expect(Object.keys(after)).toEqual(['archived_tokens', 'users']);
    expect(after).toEqual(before);
    // (Validating the seed token now does write: the corpus's validations never got that far.)
    const md = bearer(KEY);
    const validated = await svc.tokens.validateAuthToken({ authToken: ctx.seedSecret }, md);
    expect(validated.authToken!.lastUsedTime).toBeInstanceOf(Date);
    expect(await snapshot(svc)).not.toEqual(before);
  });
});
