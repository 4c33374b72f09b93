// Each transport limit (src/grpc/transport-limits.ts) at work, over raw HTTP/2 where the client
// must misbehave: the refusal names its limit (ERR_LIMIT_EXCEEDED), nothing else is disturbed, and
// the place is given back once the offender is gone.
import { randomUUID } from 'node:crypto';
import { type ClientHttp2Session, type ClientHttp2Stream, connect, constants as h2 } from 'node:http2';
import { Metadata, status } from '@grpc/grpc-js';
import { MongoClient } from 'mongodb';
import { afterAll, afterEach, beforeAll, describe, expect, inject, test } from 'vitest';
import { generateApiKey, keyEntry } from '../../src/domain/api-keys';
import {
  MAX_CALLS_AWAITING_REQUEST,
  MAX_CALLS_WITH_UNREAD_RESPONSES,
  MAX_METADATA_BYTES,
  MAX_REFLECTION_STREAMS,
  MAX_WAITING_CALLS,
} from '../../src/grpc/transport-limits';
import { GetUserRequest } from '../../gen/authtoken/v1/user_service';
import { ListAuthTokensRequest } from '../../gen/authtoken/v1/auth_token_service';
import { ServerReflectionRequest } from '../../gen/grpc/reflection/v1/reflection';
import { HealthCheckRequest, HealthCheckResponse } from '../../gen/health/v1/health';
import { scrapeMetrics } from '../support/metrics';
import { pollUntil } from '../support/poll';
import { startTestService, type TestService } from '../support/service';
import { bearer, bearerValue, decodeStatusDetails } from '../support/grpc-status';
import { failCommands, failPointOff } from '../support/fail-points';

const KEY = generateApiKey();
const PATHS = {
  getUser: '/authtoken.v1.UserService/GetUser',
  list: '/authtoken.v1.AuthTokenService/ListAuthTokens',
  check: '/grpc.health.v1.Health/Check',
  watch: '/grpc.health.v1.Health/Watch',
  reflection: '/grpc.reflection.v1.ServerReflection/ServerReflectionInfo',
};

let svc: TestService;
const sessions: ClientHttp2Session[] = [];
afterEach(() => sessions.splice(0).forEach((session) => session.destroy()));

async function start(env: Record<string, string> = {}): Promise<void> {
  svc = await startTestService({ API_KEYS: keyEntry('limits', 'full', KEY), ...env });
}

function session(options = {}): ClientHttp2Session {
  const opened = connect(`http://127.0.0.1:${svc.port}`, options);
  opened.on('error', () => undefined);
  sessions.push(opened);
  return opened;
}

function frame(message: Uint8Array): Buffer {
  const framed = Buffer.alloc(5 + message.length);
  framed.writeUInt32BE(message.length, 1);
  framed.set(message, 5);
  return framed;
}

interface Ended {
  /** The gRPC status, if one came. */
  code?: number;
  /** ErrorInfo: reason and the limit it names. */
  reason?: string;
  limit?: string;
  /** Messages received before the end. */
  messages: Buffer[];
  rstCode: number;
}

/** Opens a call; `send` a body (and `end` the request side), then resolve once the stream closes. */
function call(on: ClientHttp2Session, path: string, { body, end = true, key = true, headers = {} }: { body?: Buffer; end?: boolean; key?: boolean; headers?: Record<string, string> } = {}) {
  const stream = on.request({
    [h2.HTTP2_HEADER_METHOD]: 'POST',
    [h2.HTTP2_HEADER_PATH]: path,
    'content-type': 'application/grpc',
    te: 'trailers',
    ...(key ? { authorization: bearerValue(KEY) } : {}),
    ...headers,
  });
  const ended = new Promise<Ended>((done) => {
    const result: Ended = { messages: [], rstCode: 0 };
    const statusFrom = (fields: Record<string, unknown>) => {
      if (fields['grpc-status'] === undefined) return;
      result.code = Number(fields['grpc-status']);
      const details = fields['grpc-status-details-bin'];
      if (typeof details !== 'string') return;
      const decoded = decodeStatusDetails(result.code, Buffer.from(details, 'base64'));
      result.reason = decoded.reason;
      result.limit = decoded.metadata.limit;
    };
    stream.on('response', statusFrom);
    stream.on('trailers', statusFrom);
    stream.on('data', (chunk: Buffer) => result.messages.push(chunk));
    stream.on('error', () => undefined);
    stream.on('close', () => done({ ...result, rstCode: stream.rstCode ?? 0 }));
  });
  if (body) stream.write(body);
  if (end) stream.end();
  return { stream, ended };
}

const getUser = () => frame(GetUserRequest.encode({ uid: 'limits-user' }).finish());
const limited = (limit: string) => ({ code: status.RESOURCE_EXHAUSTED, reason: 'ERR_LIMIT_EXCEEDED', limit });

async function limitedCount(limit: string): Promise<number> {
  return (await scrapeMetrics(svc.metricsPort)).sum('authtoken_transport_limited_total', { limit });
}

/** Resolves on the response headers: a call that was let in, or a refusal (trailers-only). */
function opened(stream: ClientHttp2Stream): Promise<void> {
  return new Promise((done) => stream.once('response', () => done()));
}

/** Resolves on the first response message. */
function answered(stream: ClientHttp2Stream): Promise<void> {
  return new Promise((done) => stream.once('data', () => done()));
}

describe('connections: MAX_CONNECTIONS=2', () => {
  beforeAll(() => start({ MAX_CONNECTIONS: '2' }));
  afterAll(() => svc.stop());

  test('a third connection is closed on arrival; once one leaves, a new one is served', async () => {
    const first = session();
    const second = session();
    await Promise.all([first, second].map((s) => new Promise((done) => s.once('remoteSettings', done))));
    const third = session();
    await new Promise((done) => third.once('close', done));
    expect(await limitedCount('connections')).toBe(1);

    first.destroy();
    const { result } = await pollUntil(
      'a new connection to be served',
      async () => (await call(session(), PATHS.check, { body: frame(HealthCheckRequest.encode({ service: '' }).finish()), key: false }).ended).code,
      (code) => code === status.OK,
      { timeoutMs: 5_000 });
    expect(result).toBe(status.OK);
  });
});

describe('calls: default limits', () => {
  beforeAll(async () => {
    await start();
    await svc.users.createUser({ uid: 'limits-user', name: 'Limits' }, bearer(KEY));
  });
  afterAll(() => svc.stop());

  test(`metadata over ${MAX_METADATA_BYTES} bytes is refused before anything else; just under it is served`, async () => {
    const over = await call(session(), PATHS.getUser, { body: getUser(), headers: { 'x-padding': 'p'.repeat(MAX_METADATA_BYTES) } }).ended;
    expect(over).toMatchObject(limited('metadata_size'));
    const under = await call(session(), PATHS.getUser, { body: getUser(), headers: { 'x-padding': 'p'.repeat(MAX_METADATA_BYTES - 1024) } }).ended;
    expect(under.code).toBe(status.OK);
  });

  test('a call without a key is refused on its headers, its body never read, and its stream reset', async () => {
    const { ended } = call(session(), PATHS.getUser, { end: false, key: false });
    expect(await ended).toMatchObject({ code: status.UNAUTHENTICATED, reason: 'AUTH_ERR_APIKEY_NOT_FOUND', rstCode: h2.NGHTTP2_NO_ERROR });
  });

  test(`of ${MAX_CALLS_AWAITING_REQUEST + 1} calls waiting for their request, the oldest is refused`, async () => {
    const connections = [session(), session(), session()];
    const calls = Array.from({ length: MAX_CALLS_AWAITING_REQUEST + 1 }, (_, i) => call(connections[Math.floor(i / 100)]!, PATHS.getUser, { end: false }));
    expect(await calls[0]!.ended).toMatchObject(limited('calls_awaiting_request'));
    // The others still wait: the second one's request, sent now, is answered.
    calls[1]!.stream.end(getUser());
    expect((await calls[1]!.ended).code).toBe(status.OK);
  });

  test(`of ${MAX_CALLS_WITH_UNREAD_RESPONSES + 1} calls whose (tiny) response is not read, the oldest is reset`, async () => {
    // Health Check answers are 7 bytes: the byte bounds alone would let these pile up.
    const check = frame(HealthCheckRequest.encode({ service: '' }).finish());
    const before = await limitedCount('unread_responses');
    const calls: ReturnType<typeof call>[] = [];
    for (let c = 0; calls.length <= MAX_CALLS_WITH_UNREAD_RESPONSES; c++) {
      const neverReads = session({ settings: { initialWindowSize: 0 } });
      for (let i = 0; i < 100 && calls.length <= MAX_CALLS_WITH_UNREAD_RESPONSES; i++) {
        calls.push(call(neverReads, PATHS.check, { body: check, key: false }));
      }
      await Promise.all(calls.slice(-1).map((last) => opened(last.stream)));
    }
    expect((await calls[0]!.ended).rstCode).toBe(h2.NGHTTP2_CANCEL);
    expect(await limitedCount('unread_responses')).toBe(before + 1);
    expect(calls[1]!.stream.closed).toBe(false);
  });

  test(`at most ${MAX_REFLECTION_STREAMS} reflection streams at once`, async () => {
    const listServices = frame(ServerReflectionRequest.encode({ host: '', messageRequest: { $case: 'listServices', value: '' } }).finish());
    /** A reflection stream left open after its first answer, or how it ended if refused. */
    const reflect = async (on: ClientHttp2Session) => {
      const opened = call(on, PATHS.reflection, { body: listServices, end: false, key: false });
      const outcome = await Promise.race([answered(opened.stream).then(() => 'answered' as const), opened.ended]);
      return { ...opened, outcome };
    };
    const on = session();
    const open = [];
    for (let i = 0; i < MAX_REFLECTION_STREAMS; i++) open.push(await reflect(on));
    expect(open.map((o) => o.outcome)).toEqual(Array(MAX_REFLECTION_STREAMS).fill('answered'));
    expect((await reflect(session())).outcome).toMatchObject(limited('reflection_streams'));

    open[0]!.stream.end();
    await open[0]!.ended;
    const { result } = await pollUntil('a reflection stream to be let in again', async () => (await reflect(session())).outcome, (outcome) => outcome === 'answered', {
      timeoutMs: 5_000 });
    expect(result).toBe('answered');
  });
});

describe('health: MAX_HEALTH_WATCH_STREAMS=2', () => {
  beforeAll(() => start({ MAX_HEALTH_WATCH_STREAMS: '2' }));
  afterAll(() => svc.stop());
  const watch = (on: ClientHttp2Session, service: string) =>
    call(on, PATHS.watch, { body: frame(HealthCheckRequest.encode({ service }).finish()), key: false });
  const statuses = (messages: Buffer[]) => messages.map((m) => HealthCheckResponse.decode(Buffer.concat([m]).subarray(5)).status);

  test('an unknown name gets SERVICE_UNKNOWN, then NOT_FOUND at once', async () => {
    const ended = await watch(session(), 'authtoken.v1.NoSuchService').ended;
    expect(ended.code).toBe(status.NOT_FOUND);
    expect(statuses(ended.messages)).toEqual([3]); // SERVICE_UNKNOWN
  });

  test('a third Watch is refused while two are open', async () => {
    const on = session();
    const first = watch(on, '');
    const second = watch(on, '');
    await Promise.all([opened(first.stream), opened(second.stream)]);
    expect(await watch(session(), '').ended).toMatchObject(limited('health_watch_streams'));
  });
});

describe('unread responses: 64 KiB per connection', () => {
  beforeAll(async () => {
    await start({ UNREAD_RESPONSE_BYTES_PER_CONNECTION: String(64 * 1024) });
    const metadata = new Metadata();
    metadata.set('authorization', `Bearer ${KEY}`);
    await svc.users.createUser({ uid: 'full', name: 'Full' }, metadata);
    const appInfo = { blob: 'x'.repeat(5000) };
    for (let i = 0; i < 20; i++) await svc.tokens.createAuthToken({ uid: 'full', appInfo }, metadata);
  });
  afterAll(() => svc.stop());
  const list = (on: ClientHttp2Session, headers = {}) =>
    call(on, PATHS.list, { body: frame(ListAuthTokensRequest.encode({ uid: 'full', pageSize: 100, pageToken: '' }).finish()), headers });

  test('a connection that does not read gets one response queued, then refusals; another connection is served', async () => {
    // A stream window of 0: the server can send headers but not one byte of a response.
    const neverReads = session({ settings: { initialWindowSize: 0 } });
    const first = list(neverReads, { 'grpc-timeout': '1500m' });
    await opened(first.stream);
    expect(await list(neverReads).ended).toMatchObject(limited('unread_responses'));
    expect((await list(session()).ended).code).toBe(status.OK);

    // At its deadline the queued response is dropped: the stream is reset and the bytes released.
    expect((await first.ended).rstCode).toBe(h2.NGHTTP2_CANCEL);
    expect(await limitedCount('response_send_timeout')).toBe(1);
    const again = list(neverReads, { 'grpc-timeout': '1500m' });
    await opened(again.stream);
    expect((await again.ended).rstCode).toBe(h2.NGHTTP2_CANCEL);
  });
});

describe('running calls: MAX_RUNNING_CALLS=1', () => {
  const appName = `limits-${randomUUID().slice(0, 8)}`;
  let mongo: MongoClient;
  beforeAll(async () => {
    await start({ MAX_RUNNING_CALLS: '1', MONGODB_URI: `${inject('mongoUri')}&appName=${appName}` });
    mongo = await MongoClient.connect(inject('mongoUri'));
    await svc.users.createUser({ uid: 'limits-user', name: 'Limits' }, bearer(KEY));
  });
  afterAll(async () => {
    await failPointOff(mongo.db('admin'));
    await mongo.close();
    await svc.stop();
  });

  test('a call waits while another holds the only place; one whose deadline passes while waiting gets DEADLINE_EXCEEDED', async () => {
    // Hold this service's next find in MongoDB for 1 s: the first GetUser keeps the place that long.
    const admin = mongo.db('admin');
    const find = await failCommands(admin, { commands: ['find'], appName, blockMs: 1000 });
    const endedAt = (pending: Promise<Ended>) => pending.then((ended) => ({ ...ended, at: performance.now() }));
    const running = endedAt(call(session(), PATHS.getUser, { body: getUser() }).ended);
    await find.entered();
    const waiting = endedAt(call(session(), PATHS.getUser, { body: getUser() }).ended);
    const expiring = call(session(), PATHS.getUser, { body: getUser(), headers: { 'grpc-timeout': '300m' } }).ended;

    expect((await expiring).code).toBe(status.DEADLINE_EXCEEDED);
    const [first, second] = await Promise.all([running, waiting]);
    expect([first.code, second.code]).toEqual([status.OK, status.OK]);
    expect(second.at).toBeGreaterThan(first.at);
    // The waiting call's recorded duration includes its wait: both took about 1 s.
    const scrape = await scrapeMetrics(svc.metricsPort);
    const getUsers = scrape.sum('grpc_server_handling_seconds_count', { grpc_method: 'GetUser' });
    const underHalfSecond = scrape.sum('grpc_server_handling_seconds_bucket', { grpc_method: 'GetUser', le: '0.5' });
    expect(getUsers - underHalfSecond).toBe(2);
  });

  test(`over ${MAX_WAITING_CALLS} waiting calls, the flood's newest are refused, not another connection's`, async () => {
    const admin = mongo.db('admin');
    const find = await failCommands(admin, { commands: ['find'], appName, blockMs: 1500 });
    const running = call(session(), PATHS.getUser, { body: getUser() }).ended;
    await find.entered();
    const flood = Array.from({ length: 6 }, () => session()).flatMap((on) =>
      Array.from({ length: 100 }, () => call(on, PATHS.getUser, { body: getUser() }).ended),
    );
    // The first answer is a refusal: the queue is full. A call from another connection now still
    // gets a place, by dropping one more of the flood's.
    expect(await Promise.race(flood)).toMatchObject(limited('waiting_calls'));
    const other = call(session(), PATHS.getUser, { body: getUser() }).ended;
    const outcomes = await Promise.all(flood);
    const refused = outcomes.filter((o) => o.limit === 'waiting_calls');
    expect(refused).toHaveLength(flood.length + 1 - MAX_WAITING_CALLS);
    expect(outcomes.filter((o) => o.code === status.OK)).toHaveLength(flood.length - refused.length);
    expect((await other).code).toBe(status.OK);
    expect((await running).code).toBe(status.OK);
  });
});
