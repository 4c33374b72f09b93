// The example chat gateway (examples/chat-gateway/) end to end: real WebSocket clients hold
// sessions opened with auth tokens, and each is closed with code 4001 and the reason within 1 s
// of the call that revoked its token returning: delete, flush, flush of every other device,
// eviction at the cap, user deletion, a leak, and expiry (at the expire_time).
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { WebSocket } from 'ws';
import { CLOSE_TOKEN_NOT_VALID, CLOSE_TOKEN_REVOKED, type RunningGateway, startGateway } from '../../examples/chat-gateway/gateway';
import { startTestService, type TestService } from '../support/service';
import { createUser, issue } from './helpers';

const WITHIN_MS = 1_000;

let svc: TestService;
let gateway: RunningGateway;
const sockets: WebSocket[] = [];
beforeAll(async () => {
  svc = await startTestService({ MAX_TOKENS_PER_USER: '2' });
  gateway = await startGateway({ service: svc.address, port: 0 });
});
afterAll(async () => {
  sockets.forEach((s) => s.terminate());
  await gateway?.stop();
  await svc?.stop();
});

interface Client {
  socket: WebSocket;
  welcome: Promise<{ uid: string; tokenId: string }>;
  closed: Promise<{ code: number; reason: string; at: number }>;
}

function connect(secret: string): Client {
  const socket = new WebSocket(`ws://127.0.0.1:${gateway.port}/?token=${encodeURIComponent(secret)}`);
  sockets.push(socket);
  const welcome = new Promise<{ uid: string; tokenId: string }>((done, fail) => {
    socket.once('message', (data) => done(JSON.parse(String(data))));
    socket.once('close', (code) => fail(new Error(`closed (${code}) before the welcome`)));
  });
  welcome.catch(() => undefined); // a refused client never gets one; tests that expect it await it
  return {
    socket,
    welcome,
    closed: new Promise((done) => socket.once('close', (code, reason) => done({ code, reason: String(reason), at: performance.now() }))),
  };
}

/** A session open on a fresh token of `uid`. */
async function session(uid: string, request: Parameters<typeof issue>[2] = {}) {
  const token = await issue(svc, uid, request);
  const client = connect(token.secret);
  expect(await client.welcome).toEqual({ type: 'welcome', uid, tokenId: token.tokenId });
  return { token, client };
}

/** `call` revokes the session's token: the socket closes, with `reason`, within 1 s of it returning. */
async function closedBy(client: Client, call: () => Promise<unknown>, reason: string) {
  await call();
  const returned = performance.now();
  const closed = await client.closed;
  expect(closed).toMatchObject({ code: CLOSE_TOKEN_REVOKED, reason: `auth token revoked: ${reason}` });
  expect(closed.at - returned).toBeLessThanOrEqual(WITHIN_MS);
}

test('a token that is not valid is refused at once (4401)', async () => {
  const client = connect('cat_nobody_000000000000000000000000000000000000');
  expect(await client.closed).toMatchObject({ code: CLOSE_TOKEN_NOT_VALID });
});

describe('an open session is closed within 1 s when its token is revoked', () => {
  test('DeleteAuthToken', async () => {
    await createUser(svc, 'gw-delete');
    const { token, client } = await session('gw-delete');
    await closedBy(client, () => svc.tokens.deleteAuthToken({ uid: 'gw-delete', authToken: token.tokenId }), 'DELETED');
  });

  test('FlushAuthTokens closes every session of the user', async () => {
    await createUser(svc, 'gw-flush');
    const a = await session('gw-flush');
    const b = await session('gw-flush');
    await closedBy(a.client, () => svc.tokens.flushAuthTokens({ uid: 'gw-flush' }), 'FLUSHED');
    expect(await b.client.closed).toMatchObject({ code: CLOSE_TOKEN_REVOKED, reason: 'auth token revoked: FLUSHED' });
  });

  test('FlushAuthTokens with except_auth_token closes the other devices and keeps this one', async () => {
    await createUser(svc, 'gw-others');
    const kept = await session('gw-others', { deviceId: 'laptop' });
    const other = await session('gw-others', { deviceId: 'phone' });
    await closedBy(other.client, () => svc.tokens.flushAuthTokens({ uid: 'gw-others', exceptAuthToken: kept.token.secret }), 'FLUSHED');
    // A later revocation has been processed, so the kept session's would have been too.
    await createUser(svc, 'gw-later');
    const later = await session('gw-later');
    await closedBy(later.client, () => svc.tokens.deleteAuthToken({ uid: 'gw-later', authToken: later.token.tokenId }), 'DELETED');
    expect(kept.client.socket.readyState).toBe(WebSocket.OPEN);
  });

  test('eviction at the cap (MAX_TOKENS_PER_USER 2) closes the oldest session', async () => {
    await createUser(svc, 'gw-cap');
    const oldest = await session('gw-cap');
    await issue(svc, 'gw-cap');
    await closedBy(oldest.client, () => issue(svc, 'gw-cap'), 'EVICTED');
  });

  test('DeleteUser closes its sessions', async () => {
    await createUser(svc, 'gw-user');
    const { client } = await session('gw-user');
    await closedBy(client, () => svc.users.deleteUser({ uid: 'gw-user' }), 'USER_DELETED');
  });

  test('RevokeAuthTokens of a leaked secret', async () => {
    await createUser(svc, 'gw-leak');
    const { token, client } = await session('gw-leak');
    await closedBy(client, () => svc.tokens.revokeAuthTokens({ authTokens: [token.secret] }), 'LEAKED');
  });

  test('expiry: at the expire_time', async () => {
    await createUser(svc, 'gw-expiry');
    const { token, client } = await session('gw-expiry', { ttl: { seconds: 1, nanos: 0 } });
    const closed = await client.closed;
    expect(closed).toMatchObject({ code: CLOSE_TOKEN_REVOKED, reason: 'auth token revoked: EXPIRED' });
    const lateMs = Date.now() - (performance.now() - closed.at) - token.token.expireTime!.getTime();
    expect(lateMs).toBeGreaterThanOrEqual(-5);
    expect(lateMs).toBeLessThanOrEqual(WITHIN_MS);
  });
});
