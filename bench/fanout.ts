// The event fan-out run: FANOUT_SUBSCRIBERS watches of every event on one service replica, each on
// its own connection (as separate gateways would be), while workers issue and revoke tokens as
// fast as the service takes them. Delivery latency is an event's arrival at a subscriber less its
// own time (set by the service just before the write that makes it commits), on this one clock.
import { credentials, Metadata, type ServiceError } from '@grpc/grpc-js';
import { AuthTokenServiceClient, type AuthTokenEvent, AuthTokenEventType } from '../gen/authtoken/v1/auth_token_service';
import { UserServiceClient } from '../gen/authtoken/v1/user_service';
import { memoryOf } from '../test/support/process-memory';
import { round } from './lib/numbers';
import { log } from './lib/output';
import { cpuMsOf } from './lib/processes';
import type { BenchContext } from './workloads';

export const FANOUT_SUBSCRIBERS = 50;
/** Issue-and-revoke loops running at once. */
const WRITERS = Number(process.env.FANOUT_WRITERS ?? 16);

export interface FanoutFigures {
  subscribers: number;
  durationS: number;
  /** Tokens revoked per second (each also issued: two events). */
  revocationsPerS: number | null;
  eventsPerS: number | null;
  /** Events received per second, all subscribers together. */
  deliveriesPerS: number | null;
  deliveryP50Ms: number | null;
  deliveryP99Ms: number | null;
  deliveryMaxMs: number | null;
  /** Deliveries missing at the end (every subscriber must get every event). */
  missing: number;
  serviceRssPeakMb: number | null;
  serviceCpuMsPerEvent: number | null;
  /** What this benchmark process (writers and subscribers) spent, per event: it shares the machine. */
  benchCpuMsPerEvent: number | null;
}

export async function measureFanout(ctx: BenchContext): Promise<FanoutFigures> {
  const address = `127.0.0.1:${ctx.service.port}`;
  const metadata = () => {
    const m = new Metadata();
    for (const [k, v] of Object.entries(ctx.metadata ?? {})) m.set(k, v);
    return m;
  };
  const uids = Array.from({ length: WRITERS }, (_, i) => `fanout-${i}`);
  const users = new UserServiceClient(address, credentials.createInsecure());
  const tokens = new AuthTokenServiceClient(address, credentials.createInsecure());
  for (const uid of uids) {
    await new Promise<void>((done, fail) => users.createUser({ uid, name: uid, metadata: undefined, firstToken: undefined } as never, metadata(), (e) => (e ? fail(e) : done())));
  }

  const latencies: number[] = [];
  const received = new Array<number>(FANOUT_SUBSCRIBERS).fill(0);
  const subscribers = await Promise.all(
    Array.from({ length: FANOUT_SUBSCRIBERS }, (_, i) => subscribe(address, metadata(), uids, (event) => {
      received[i]!++;
      latencies.push(Date.now() - event.time!.getTime());
    })),
  );

  const rss: number[] = [];
  const sampler = setInterval(() => rss.push(memoryOf(ctx.service.pid)?.rssMb ?? NaN), 250);
  const cpuBefore = cpuMsOf(ctx.service.pid);
  const benchCpuBefore = process.cpuUsage();
  const started = performance.now();
  const until = started + ctx.settings.durationS * 1000;
  let revoked = 0;
  await Promise.all(
    uids.map(async (uid) => {
      while (performance.now() < until) {
        const tokenId = await unary<{ authToken?: { tokenId: string } }>((cb) => tokens.createAuthToken({ uid, force: true } as never, metadata(), cb));
        await unary((cb) => tokens.deleteAuthToken({ uid, authToken: tokenId.authToken!.tokenId } as never, metadata(), cb));
        revoked++;
      }
    }),
  );
  const elapsedS = (performance.now() - started) / 1000;
  const cpuMs = cpuMsOf(ctx.service.pid) - cpuBefore;
  const benchCpu = process.cpuUsage(benchCpuBefore);
  const events = revoked * 2;
  // Every subscriber must get every event; wait (bounded) for the last to arrive.
  const drainUntil = performance.now() + 10_000;
  while (received.some((n) => n < events) && performance.now() < drainUntil) await new Promise((done) => setTimeout(done, 50));
  clearInterval(sampler);
  subscribers.forEach((s) => s.close());
  users.close();
  tokens.close();

  latencies.sort((a, b) => a - b);
  const at = (p: number) => (latencies.length ? latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))]! : NaN);
  const figures: FanoutFigures = {
    subscribers: FANOUT_SUBSCRIBERS,
    durationS: round(elapsedS, 1)!,
    revocationsPerS: round(revoked / elapsedS, 0),
    eventsPerS: round(events / elapsedS, 0),
    deliveriesPerS: round(latencies.length / elapsedS, 0),
    deliveryP50Ms: round(at(50), 1),
    deliveryP99Ms: round(at(99), 1),
    deliveryMaxMs: round(latencies.at(-1) ?? NaN, 1),
    missing: received.reduce((sum, n) => sum + Math.max(0, events - n), 0),
    serviceRssPeakMb: round(Math.max(...rss.filter(Number.isFinite)), 1),
    serviceCpuMsPerEvent: round(cpuMs / events, 3),
    benchCpuMsPerEvent: round((benchCpu.user + benchCpu.system) / 1000 / events, 3),
  };
  log(`fan-out: ${JSON.stringify(figures)}`);
  return figures;
}

function unary<T>(call: (callback: (error: ServiceError | null, response: T) => void) => void): Promise<T> {
  return new Promise((done, fail) => call((error, response) => (error ? fail(error) : done(response))));
}

/** One watch of `uids`, on a connection of its own; resolves once it is live. */
function subscribe(address: string, metadata: Metadata, uids: string[], onEvent: (event: AuthTokenEvent) => void): Promise<{ close(): void }> {
  const client = new AuthTokenServiceClient(address, credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 });
  const call = client.watchAuthTokenEvents({ uids, resumeToken: '' }, metadata);
  const close = () => {
    call.cancel();
    client.close();
  };
  return new Promise((live, fail) => {
    call.on('data', (event: AuthTokenEvent) => {
      if (event.type === AuthTokenEventType.AUTH_TOKEN_EVENT_TYPE_BOOKMARK) live({ close });
      else onEvent(event);
    });
    call.on('error', (error: ServiceError) => {
      if (error.code !== 1) log(`fan-out subscriber ended: ${error.code} ${error.details}`);
      fail(error);
    });
  });
}
