// WatchAuthTokenEvents after a disconnect, and its bounds, over replicas of the service on one
// database: resuming with the last resume_token gets every later event and none twice, on the
// replica that sent it (from memory) or on another (read back from the oplog), even while events
// keep coming; a client that does not read has its stream reset (RESOURCE_EXHAUSTED) instead of
// growing the server's memory; the streams a replica holds are capped.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { status } from '@grpc/grpc-js';
import type { AuthTokenEvent } from '../../gen/authtoken/v1/auth_token_service';
import { type EventWatch, OpenWatches, REVOKED } from '../support/event-watch';
import { grpcError } from '../support/grpc-status';
import { scrapeMetrics } from '../support/metrics';
import { startTestService, type TestService } from '../support/service';
import { createUser, expectError, issue } from './helpers';

let first: TestService;
/** Keeps no events in memory: every resume is read back from the oplog. */
let forgetful: TestService;
/** Small bounds, for the tests of them. */
let bounded: TestService;
const watches = new OpenWatches();
beforeAll(async () => {
  first = await startTestService();
  forgetful = await startTestService({ EVENT_REPLAY_EVENTS: '0' }, { dbName: first.dbName });
  bounded = await startTestService({ EVENT_STREAM_BACKLOG: '10', MAX_EVENT_STREAMS: '2' }, { dbName: first.dbName });
});
afterAll(async () => {
  watches.closeAll();
  await bounded?.stop();
  await forgetful?.stop();
  await first?.stop();
});

const watch = (svc: TestService, request: ConstructorParameters<typeof EventWatch>[1] = {}) => watches.open(svc, request);

const key = (e: AuthTokenEvent) => `${e.type} ${e.tokenId} ${e.reason} ${e.resumeToken}`;

describe('resuming with the last resume_token: every later event, none twice', () => {
  test.each([
    ['on the replica that sent it, from memory', () => first],
    ['on another replica, read back from the oplog', () => forgetful],
  ])('%s, while events keep coming', async (_, replica) => {
    const uid = `ev-resume-${replica() === first ? 'a' : 'b'}`;
    const all = watch(first, { uids: [uid] });
    await all.live();
    await createUser(first, uid);
    for (let i = 0; i < 10; i++) await issue(first, uid);
    await first.tokens.flushAuthTokens({ uid });
    await all.next((e) => e.type === REVOKED && all.changes.length === 20);
    const k = 4;
    const resumed = watch(replica(), { uids: [uid], resumeToken: all.changes[k]!.resumeToken });
    // Events go on while it reads back and joins the live ones.
    const more = await Promise.all(Array.from({ length: 10 }, () => issue(first, uid)));
    const last = (await first.tokens.flushAuthTokens({ uid })).deletedCount;
    expect(last).toBe(10);
    await all.next(() => all.changes.length === 40);
    await resumed.next(() => resumed.changes.length === 40 - (k + 1));
    expect(resumed.changes.map(key)).toEqual(all.changes.slice(k + 1).map(key));
    expect(more.every((m) => resumed.changes.some((e) => e.tokenId === m.tokenId && e.type === REVOKED))).toBe(true);
  });

  test('a resume_token of a bookmark resumes too: nothing sent before it comes again', async () => {
    const uid = 'ev-resume-bookmark';
    await createUser(first, uid);
    // The replica must have heard of `before` when the bookmark is taken: an acknowledged write
    // reaches its change stream a moment later, and a bookmark taken in between lies before it.
    const heard = watch(first, { uids: [uid] });
    await heard.live();
    const before = await issue(first, uid);
    await heard.next((e) => e.tokenId === before.tokenId);
    const w = watch(first, { uids: [uid] });
    const { event: bookmark } = await w.live();
    const resumed = watch(forgetful, { uids: [uid], resumeToken: bookmark.resumeToken });
    await resumed.live();
    const after = await issue(first, uid);
    await resumed.next((e) => e.tokenId === after.tokenId);
    expect(resumed.changes.map((e) => e.tokenId)).toEqual([after.tokenId]);
    expect(resumed.changes.map((e) => e.tokenId)).not.toContain(before.tokenId);
  });
});

describe('bounds', () => {
  test('a client that does not read is reset with RESOURCE_EXHAUSTED once it holds more than EVENT_STREAM_BACKLOG events', async () => {
    const uid = 'ev-slow';
    await createUser(first, uid);
    const slow = watch(bounded, { uids: [uid] });
    await slow.live();
    slow.call.pause(); // reads nothing more: HTTP/2 flow control pushes back on the server
    const before = (await scrapeMetrics(bounded.metricsPort)).value('authtoken_transport_limited_total', { limit: 'event_backlog' }) ?? 0;
    let sent = 0;
    for (let round = 0; round < 10; round++) {
      await Promise.all(Array.from({ length: 50 }, () => issue(first, uid)));
      sent += 50 + (await first.tokens.flushAuthTokens({ uid })).deletedCount;
      const limited = (await scrapeMetrics(bounded.metricsPort)).value('authtoken_transport_limited_total', { limit: 'event_backlog' }) ?? 0;
      if (limited > before) break;
    }
    slow.call.resume();
    const error = await slow.end();
    expect(error.code).toBe(status.RESOURCE_EXHAUSTED);
    expect(slow.changes.length).toBeLessThan(sent);
    // The events it missed are not lost: it resumes from the last it got, and gets only later ones.
    const position = slow.arrived.at(-1)!.event.resumeToken;
    const resumed = watch(bounded, { uids: [uid], resumeToken: position });
    const union = () => new Set([...slow.changes, ...resumed.changes].map(key)).size;
    await resumed.next(() => union() === sent);
    expect(resumed.changes.filter((e) => e.resumeToken <= position)).toEqual([]);
    slow.close();
    resumed.close();
  });

  test('beyond MAX_EVENT_STREAMS watches, the next is RESOURCE_EXHAUSTED ERR_LIMIT_EXCEEDED (event_streams)', async () => {
    const open = [watch(bounded), watch(bounded)];
    await Promise.all(open.map((w) => w.live()));
    const error = await grpcError(Promise.reject(await watch(bounded).end()));
    expectError(error, status.RESOURCE_EXHAUSTED, 'ERR_LIMIT_EXCEEDED');
    expect(error.metadata.limit).toBe('event_streams');
    open.forEach((w) => w.close());
  });
});
