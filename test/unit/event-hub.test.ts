// The event hub's own rules, over a scripted source (the real one, a MongoDB change stream, is
// tested in test/e2e/auth-token-events*.test.ts): a watch gets every event after where it starts,
// in order, none twice, whether it starts now, from the replay, or from further back through the
// source; what ends a watch; bookmarks.
import { afterEach, describe, expect, test } from 'vitest';
import { type AuthTokenEvent, type EventBatch, type TokenEventSource, resumeTokenExpired } from '../../src/domain/auth-token-events';
import { DomainError, ErrorReason, serviceUnavailable } from '../../src/domain/errors';
import { EventHub, type EventSubscriber } from '../../src/domain/event-hub';

/** Positions as the database's: fixed-width hex that sorts in order. */
const position = (n: number) => `82${n.toString(16).toUpperCase().padStart(16, '0')}`;

/** An event log the test appends to; followers read it from any position it still keeps. */
class ScriptedSource implements TokenEventSource {
  readonly log: AuthTokenEvent[] = [];
  /** Events at or before this are gone (as from an oplog). */
  keptAfter = 0;
  follows: (string | undefined)[] = [];
  private wake: (() => void)[] = [];
  private failure: Error | undefined;

  append(uid: string, count = 1): AuthTokenEvent[] {
    const added = Array.from({ length: count }, (_, i) => {
      const n = this.log.length + 1 + i;
      return { type: 'ISSUED' as const, position: position(n), uid, tokenId: `tid_${n}`, deviceId: '', time: new Date(n) };
    });
    this.log.push(...added);
    this.wake.splice(0).forEach((w) => w());
    return added;
  }

  /** The followers that are open fail with `error`. */
  fail(error: Error): void {
    this.failure = error;
    this.wake.splice(0).forEach((w) => w());
  }

  async *follow(after: string | undefined, signal: AbortSignal): AsyncGenerator<EventBatch> {
    this.follows.push(after);
    this.failure = undefined;
    if (after !== undefined && after < position(this.keptAfter)) throw resumeTokenExpired();
    let next = after === undefined ? this.log.length : this.log.findIndex((e) => e.position > after);
    if (next === -1) next = this.log.length;
    yield { events: [], position: after ?? position(this.log.length) };
    while (!signal.aborted) {
      if (this.failure) throw this.failure;
      if (next < this.log.length) {
        // Two at a time: batches do not line up with what a watch asks for.
        const events = this.log.slice(next, next + 2);
        next += events.length;
        yield { events, position: events.at(-1)!.position };
        continue;
      }
      if (signal.aborted) return;
      await new Promise<void>((done) => {
        this.wake.push(done);
        signal.addEventListener('abort', () => done(), { once: true });
      });
    }
  }
}

/** Keeps what it is sent; `roomy: false` makes it report no room until `ready()` is awaited. */
class Collector implements EventSubscriber {
  readonly got: AuthTokenEvent[] = [];
  waitedForRoom = 0;
  private waiters: (() => void)[] = [];
  constructor(private readonly roomy = true) {}
  push(event: AuthTokenEvent): boolean {
    this.got.push(event);
    this.waiters.splice(0).forEach((w) => w());
    return this.roomy;
  }
  ready(): Promise<void> {
    this.waitedForRoom++;
    return Promise.resolve();
  }
  get changes(): string[] {
    return this.got.filter((e) => e.type !== 'BOOKMARK').map((e) => e.position);
  }
  /** Resolves once it holds `count` changes (and at least one message); fails after 5 s. */
  async changesReach(count: number): Promise<void> {
    const deadline = Date.now() + 5_000;
    while (this.changes.length < count || this.got.length === 0) {
      if (Date.now() > deadline) throw new Error(`${this.changes.length} of ${count} changes after 5 s`);
      await new Promise<void>((done) => {
        this.waiters.push(done);
        setTimeout(done, 100);
      });
    }
  }
}

const hubs: EventHub[] = [];
afterEach(async () => {
  await Promise.all(hubs.splice(0).map((h) => h.stop()));
});

async function liveHub(source: ScriptedSource, replayEvents = 100, bookmarkIntervalMs = 60_000): Promise<EventHub> {
  const hub = new EventHub(source, { replayEvents, bookmarkIntervalMs, reopenAfterMs: 1, liveWaitMs: 1_000, onSourceError: () => {} });
  hubs.push(hub);
  hub.start();
  return hub;
}

/** Appends `count` events and resolves once the hub has taken them (a watch of everything got them). */
async function appendTaken(hub: EventHub, source: ScriptedSource, uid: string, count: number): Promise<void> {
  const { sub, stop } = await started(hub);
  source.append(uid, count);
  await sub.changesReach(count);
  stop.abort();
}

const all = { uids: new Set<string>(), after: undefined };

/** Starts a watch and resolves once it was sent its first message. */
async function started(hub: EventHub, request = all as { uids: Set<string>; after: string | undefined }, sub = new Collector()) {
  const stop = new AbortController();
  const watching = hub.watch(request, sub, stop.signal);
  watching.catch(() => undefined);
  await Promise.race([sub.changesReach(0), watching]);
  return { sub, stop, watching };
}


describe('where a watch starts', () => {
  test('without a resume token: a BOOKMARK at the head, then each new event in order', async () => {
    const source = new ScriptedSource();
    source.append('a', 3);
    const hub = await liveHub(source);
    const { sub, stop, watching } = await started(hub);
    const later = source.append('b', 5);
    await sub.changesReach(5);
    expect(sub.got[0]).toEqual({ type: 'BOOKMARK', position: position(3) });
    expect(sub.changes).toEqual(later.map((e) => e.position));
    stop.abort();
    await watching;
    expect(hub.watching).toBe(0);
  });

  test('from a position the replay covers: exactly the events after it, then a BOOKMARK, then the live ones', async () => {
    const source = new ScriptedSource();
    const hub = await liveHub(source);
    await appendTaken(hub, source, 'a', 10);
    const { sub } = await started(hub, { uids: new Set(), after: position(4) });
    source.append('a', 2);
    await sub.changesReach(8);
    expect(sub.changes).toEqual([5, 6, 7, 8, 9, 10, 11, 12].map(position));
    expect(sub.got[6]).toEqual({ type: 'BOOKMARK', position: position(10) });
    expect(source.follows).toEqual([undefined]); // served from the replay, not the source
  });

  test('from further back than the replay: read from the source, then joined, none twice while events keep coming', async () => {
    const source = new ScriptedSource();
    const hub = await liveHub(source, 4);
    await appendTaken(hub, source, 'a', 40); // the replay keeps the latest few only
    const { sub } = await started(hub, { uids: new Set(), after: position(3) });
    for (let i = 0; i < 10; i++) source.append('a', 3);
    await sub.changesReach(67);
    expect(sub.changes).toEqual(Array.from({ length: 67 }, (_, i) => position(i + 4)));
    expect(source.follows).toEqual([undefined, position(3)]);
  });

  test('from a position this replica has not reached yet: nothing at or before it, then what comes after', async () => {
    const source = new ScriptedSource();
    const hub = await liveHub(source);
    const { sub } = await started(hub, { uids: new Set(), after: position(3) });
    expect(sub.got[0]).toEqual({ type: 'BOOKMARK', position: position(3) });
    source.append('a', 5);
    await sub.changesReach(2);
    expect(sub.changes).toEqual([4, 5].map(position));
  });

  test('reading back waits for a subscriber with no room instead of piling events on it', async () => {
    const source = new ScriptedSource();
    const hub = await liveHub(source, 4);
    await appendTaken(hub, source, 'a', 20);
    const { sub } = await started(hub, { uids: new Set(), after: position(0) }, new Collector(false));
    await sub.changesReach(20);
    expect(sub.waitedForRoom).toBeGreaterThanOrEqual(15);
  });

  test('from a position the source no longer keeps: ERR_RESUME_TOKEN_EXPIRED', async () => {
    const source = new ScriptedSource();
    const hub = await liveHub(source, 4);
    await appendTaken(hub, source, 'a', 20);
    source.keptAfter = 10;
    await expect(hub.watch({ uids: new Set(), after: position(5) }, new Collector(), new AbortController().signal)).rejects.toMatchObject({
      reason: ErrorReason.RESUME_TOKEN_EXPIRED,
    });
  });

  test('a watch of some uids gets their events, and bookmarks that move its position on', async () => {
    const source = new ScriptedSource();
    const hub = await liveHub(source, 100, 5);
    const { sub } = await started(hub, { uids: new Set(['b']), after: undefined });
    source.append('a', 3);
    const [b] = source.append('b');
    source.append('a', 3);
    await sub.changesReach(1);
    expect(sub.changes).toEqual([b!.position]);
    // The next periodic bookmark says it has everything up to the head, though it was sent nothing since.
    while (sub.got.at(-1)!.position !== position(7)) await new Promise((done) => setTimeout(done, 5));
    expect(sub.got.at(-1)!.type).toBe('BOOKMARK');
  });
});

describe('what ends a watch', () => {
  test('the source failing ends every watch UNAVAILABLE; followed again from where it was, a resumed watch misses nothing', async () => {
    const source = new ScriptedSource();
    const hub = await liveHub(source);
    const { sub, watching } = await started(hub);
    source.append('a', 2);
    await sub.changesReach(2);
    source.fail(serviceUnavailable(new Error('network')));
    await expect(watching).rejects.toMatchObject({ reason: ErrorReason.SERVICE_UNAVAILABLE });
    source.append('a', 3); // while nobody watches
    const { sub: resumed } = await started(hub, { uids: new Set(), after: sub.changes.at(-1) });
    source.append('a');
    await resumed.changesReach(4);
    expect(resumed.changes).toEqual([3, 4, 5, 6].map(position));
    expect(source.follows).toEqual([undefined, position(2)]);
  });

  test('stop() ends every watch UNAVAILABLE', async () => {
    const source = new ScriptedSource();
    const hub = await liveHub(source);
    const { watching } = await started(hub);
    await hub.stop();
    const error = await watching.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DomainError);
    expect((error as DomainError).reason).toBe(ErrorReason.SERVICE_UNAVAILABLE);
  });
});
