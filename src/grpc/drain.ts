// Graceful stop of the gRPC server: no new connection, no new call, in-flight calls may finish
// within the grace period, then whatever is left is cut.
import { setTimeout as delay } from 'node:timers/promises';
import type { InFlightCalls } from './call-hooks';
import type { RunningServer } from './server';

/** After the last unary call, how long its response may take to leave before streams are cut. */
const RESPONSE_FLUSH_MS = 1_000;

export async function drain(grpc: RunningServer, inFlight: InFlightCalls, graceMs: number): Promise<void> {
  grpc.stopAccepting();
  const closed = new Promise<void>((done) => grpc.server.tryShutdown(() => done()));
  // tryShutdown completes once every stream has ended, but health Watch streams never end by
  // themselves. So: once no unary call is left, give responses a moment to flush, then cut what
  // remains; and never wait beyond the grace period.
  const timers = new AbortController();
  const unaryCallsDone = inFlight.idle().then(() => delay(RESPONSE_FLUSH_MS, undefined, timers));
  const graceOver = delay(graceMs, undefined, timers);
  await Promise.race([closed, unaryCallsDone, graceOver]).catch(() => undefined);
  timers.abort();
  grpc.server.forceShutdown();
  await closed;
  grpc.close();
}
