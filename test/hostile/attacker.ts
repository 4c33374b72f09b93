// The hostile clients of issue 10, each run in a process of its own (so that its CPU use does not
// delay the test's own probes), over raw node:http2:
//
//   node --import tsx test/hostile/attacker.ts <attack> '<options as JSON>'
//
// Every attack is bounded in time and count, runs against loopback only, and prints one JSON line
// (what it sent and what came back) before it exits.
import { type ClientHttp2Session, type ClientHttp2Stream, connect, constants as h2 } from 'node:http2';
import { setTimeout as delay } from 'node:timers/promises';
import { ListAuthTokensRequest } from '../../gen/authtoken/v1/auth_token_service';
import { ServerReflectionRequest } from '../../gen/grpc/reflection/v1/reflection';
import { HealthCheckRequest } from '../../gen/health/v1/health';

export interface AttackOptions {
  port: number;
  /** For the attack made with a key. */
  key?: string;
  /** The user whose tokens are listed. */
  uid?: string;
  durationMs: number;
}

export interface AttackReport {
  /** Streams opened (or requests written, for reflection). */
  sent: number;
  /** Streams that ended with a gRPC status, by status code. */
  statuses: Record<string, number>;
  /** Streams that ended without a status (reset by either side), and connections closed. */
  endedWithoutStatus: number;
  connectionsClosed: number;
}

const PATHS = {
  validate: '/authtoken.v1.AuthTokenService/ValidateAuthToken',
  list: '/authtoken.v1.AuthTokenService/ListAuthTokens',
  watch: '/grpc.health.v1.Health/Watch',
  reflection: '/grpc.reflection.v1.ServerReflection/ServerReflectionInfo',
};

/** A client that never reads: a stream window of 0 lets the server send no response bytes at all. */
const NEVER_READS = { settings: { initialWindowSize: 0 } };

function frame(message: Uint8Array): Buffer {
  const framed = Buffer.alloc(5 + message.length);
  framed.writeUInt32BE(message.length, 1);
  framed.set(message, 5);
  return framed;
}

function headers(path: string, key?: string) {
  return {
    [h2.HTTP2_HEADER_METHOD]: 'POST',
    [h2.HTTP2_HEADER_PATH]: path,
    'content-type': 'application/grpc',
    te: 'trailers',
    ...(key ? { authorization: `Bearer ${key}` } : {}),
  };
}

class Tally implements AttackReport {
  sent = 0;
  statuses: Record<string, number> = {};
  endedWithoutStatus = 0;
  connectionsClosed = 0;

  /** Counts how `stream` ends; never throws. */
  watch(stream: ClientHttp2Stream): void {
    let status: string | undefined;
    stream.on('trailers', (trailers) => (status = String(trailers['grpc-status'])));
    stream.on('response', (response) => {
      if (response['grpc-status'] !== undefined) status = String(response['grpc-status']);
    });
    stream.on('error', () => undefined);
    stream.on('close', () => {
      if (status !== undefined) this.statuses[status] = (this.statuses[status] ?? 0) + 1;
      else this.endedWithoutStatus++;
    });
  }

  session(port: number, options = {}): ClientHttp2Session {
    const session = connect(`http://127.0.0.1:${port}`, options);
    session.on('error', () => undefined);
    session.on('close', () => this.connectionsClosed++);
    return session;
  }
}

/**
 * Attack 1: header-only streams, about 2,000 every 50 ms on one connection, reconnecting whenever
 * the server closes it. `body`: a partial request frame to send on each stream first.
 */
async function flood(tally: Tally, options: AttackOptions, path: string, body?: Buffer): Promise<void> {
  const until = Date.now() + options.durationMs;
  let session = tally.session(options.port);
  while (Date.now() < until) {
    if (session.closed || session.destroyed) session = tally.session(options.port);
    for (let i = 0; i < 2000 && !session.closed && !session.destroyed; i++) {
      try {
        const stream = session.request(headers(path), { endStream: false });
        tally.watch(stream);
        if (body) stream.write(body);
        tally.sent++;
      } catch {
        break; // the session went away under us
      }
    }
    await delay(50);
  }
  session.destroy();
}

/** Attack 2: one reflection stream that never reads, with 36-byte requests written as fast as they go. */
async function reflection(tally: Tally, options: AttackOptions): Promise<void> {
  const session = tally.session(options.port, NEVER_READS);
  const stream = session.request(headers(PATHS.reflection), { endStream: false });
  tally.watch(stream);
  const request = frame(
    ServerReflectionRequest.encode({ host: '', messageRequest: { $case: 'fileContainingSymbol', value: 'authtoken.v1.AuthTokenService' } }).finish(),
  );
  const until = Date.now() + options.durationMs;
  while (Date.now() < until && !stream.closed) {
    tally.sent++;
    if (!stream.write(request)) {
      await Promise.race([new Promise((drained) => stream.once('drain', drained)), delay(until - Date.now())]);
    }
  }
  session.destroy();
}

/**
 * Attack 3: Watch with distinct names as long as a request may be, each cancelled after its first
 * answer, for the duration (at most `count`), reconnecting whenever the server closes the connection.
 */
async function watchNames(tally: Tally, options: AttackOptions, nameBytes: number, count: number): Promise<void> {
  let session = tally.session(options.port);
  const until = Date.now() + options.durationMs;
  for (let n = 0; n < count && Date.now() < until; n++) {
    if (session.closed || session.destroyed) session = tally.session(options.port);
    const name = `${n}-`.padEnd(nameBytes, 'n');
    const stream = session.request(headers(PATHS.watch), { endStream: false });
    tally.watch(stream);
    stream.end(frame(HealthCheckRequest.encode({ service: name }).finish()));
    tally.sent++;
    await new Promise<void>((answered) => {
      stream.once('data', () => answered());
      stream.once('close', () => answered());
    });
    stream.close(h2.NGHTTP2_CANCEL);
  }
  session.destroy();
}

/** Attack 4: `calls` ListAuthTokens over 4 connections that never read, held for the duration. */
async function slowReader(tally: Tally, options: AttackOptions, calls: number): Promise<void> {
  const sessions = Array.from({ length: 4 }, () => tally.session(options.port, NEVER_READS));
  const body = frame(ListAuthTokensRequest.encode({ uid: options.uid!, pageSize: 100, pageToken: '' }).finish());
  for (let i = 0; i < calls; i++) {
    const stream = sessions[i % sessions.length]!.request(headers(PATHS.list, options.key), { endStream: false });
    tally.watch(stream);
    stream.end(body);
    tally.sent++;
    if (i % 100 === 99) await delay(10);
  }
  await delay(options.durationMs);
  sessions.forEach((session) => session.destroy());
}

const ATTACKS = {
  'flood-unauthenticated': (tally, options) => flood(tally, options, PATHS.validate),
  // The first 3 bytes of a 5-byte frame header: the request never completes.
  'flood-watch-partial': (tally, options) => flood(tally, options, PATHS.watch, Buffer.from([0, 0, 0])),
  reflection,
  'watch-names': (tally, options) => watchNames(tally, options, 63 * 1024, 5_000),
  'slow-reader': (tally, options) => slowReader(tally, options, 1000),
} satisfies Record<string, (tally: Tally, options: AttackOptions) => Promise<void>>;

export type AttackName = keyof typeof ATTACKS;

async function main(): Promise<void> {
  const [name = '', json = '{}'] = process.argv.slice(2);
  const attack = (ATTACKS as Record<string, (tally: Tally, options: AttackOptions) => Promise<void>>)[name];
  if (!attack) throw new Error(`unknown attack ${name}; one of ${Object.keys(ATTACKS).join(', ')}`);
  const tally = new Tally();
  await attack(tally, JSON.parse(json) as AttackOptions);
  // Let the last closes be counted.
  await delay(200);
  const report: AttackReport = { ...tally };
  process.stdout.write(`${JSON.stringify(report)}\n`);
  process.exit(0);
}

// Run only as a script: the tests import its types alone.
if (require.main === module) {
  main().catch((error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
    process.exit(1);
  });
}
