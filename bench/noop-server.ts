// Baseline (1) of the benchmark: the gRPC stack by itself. A grpc-js server with the service's own
// transport options (grpcServerOptions, at the default limits) and the generated AuthTokenService definition (so requests are decoded and
// responses encoded by the same ts-proto code), whose handlers answer at once with canned responses
// of the same size as the real service's.
//
//   node --import tsx bench/noop-server.ts [--canned bench/out/canned.json] [--port 0]
//
// --canned: JSON { "<method>": "<base64 of the serialized response>" }, captured by bench/run.ts
// from the real service, so that message sizes match exactly. Methods missing from it (or all, with
// no file) get a synthetic response shaped like the benchmark's seeded data.
// Prints one JSON line {"msg":"listening","port":N} once bound; stops on SIGTERM/SIGINT.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { Server, ServerCredentials, type UntypedServiceImplementation, type sendUnaryData } from '@grpc/grpc-js';
import { AuthTokenServiceService, RevocationResult } from '../gen/authtoken/v1/auth_token_service';
import { ArchiveReason, type AuthToken, type User } from '../gen/authtoken/v1/resources';
import { loadConfig } from '../src/config';
import { grpcServerOptions, transportLimits } from '../src/grpc/transport-limits';

/** The unary methods: the no-op server answers those (the event stream is measured on its own, fanout.ts). */
type Method = Exclude<keyof typeof AuthTokenServiceService, 'watchAuthTokenEvents'>;
const METHODS = (Object.keys(AuthTokenServiceService) as (keyof typeof AuthTokenServiceService)[]).filter(
  (m): m is Method => !AuthTokenServiceService[m].responseStream,
);

const { values } = parseArgs({
  options: {
    canned: { type: 'string' },
    port: { type: 'string', default: '0' },
    host: { type: 'string', default: '127.0.0.1' },
  },
});

/** A token shaped like the seeded ones (same field lengths). */
function syntheticToken(secret = ''): AuthToken {
  const now = new Date();
  return {
    tokenId: 'tid_' + 'A'.repeat(22),
    authToken: secret,
    uid: 'u000000',
    createTime: now,
    updateTime: now,
    lastUsedTime: now,
    platform: 'ios',
    deviceId: 'device-u000000-00',
    userAgent: 'ChatApp/2.3.1 (iOS 17.4)',
    appInfo: { version: '2.3.1', build: 231 },
    expireTime: undefined,
  };
}

function syntheticUser(): User {
  const now = new Date();
  return { uid: 'u000000', name: 'Bench user 000000', metadata: { plan: 'free' }, createTime: now, updateTime: now };
}

const SYNTHETIC: { [M in Method]: () => unknown } = {
  createAuthToken: () => ({
    authToken: syntheticToken('cat_u000000_' + 'a'.repeat(36)),
    evictedTokenIds: ['tid_' + 'B'.repeat(22)],
    replacedTokenIds: [],
  }),
  listAuthTokens: () => ({ authTokens: Array.from({ length: 100 }, () => syntheticToken()), nextPageToken: '', totalSize: 100 }),
  getAuthToken: () => syntheticToken(),
  updateAuthToken: () => syntheticToken(),
  deleteAuthToken: () => ({
    archivedAuthToken: { authToken: syntheticToken(), archiveTime: new Date(), reason: ArchiveReason.ARCHIVE_REASON_DELETED },
  }),
  flushAuthTokens: () => ({ deletedCount: 100 }),
  validateAuthToken: () => ({ uid: 'u000000', authToken: syntheticToken(), user: syntheticUser() }),
  listArchivedAuthTokens: () => ({ archivedAuthTokens: [], nextPageToken: '' }),
  revokeAuthTokens: () => ({ results: [RevocationResult.REVOCATION_RESULT_REVOKED] }),
};

function cannedResponses(): Record<Method, unknown> {
  const captured: Partial<Record<Method, string>> = values.canned ? JSON.parse(readFileSync(values.canned, 'utf8')) : {};
  const out = {} as Record<Method, unknown>;
  for (const method of METHODS) {
    const base64 = captured[method];
    // Decoded once into the generated message object: each call then pays exactly the encoding
    // the real service pays for the same message.
    out[method] = base64
      ? AuthTokenServiceService[method].responseDeserialize(Buffer.from(base64, 'base64'))
      : SYNTHETIC[method]();
  }
  return out;
}

async function main(): Promise<void> {
  const responses = cannedResponses();
  const implementation: UntypedServiceImplementation = {};
  for (const method of METHODS) {
    const response = responses[method];
    implementation[method] = (_call: unknown, callback: sendUnaryData<unknown>) => callback(null, response);
  }
  const server = new Server(grpcServerOptions(transportLimits(loadConfig({}))));
  server.addService(AuthTokenServiceService, implementation);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${values.host}:${values.port}`, ServerCredentials.createInsecure(), (error, bound) =>
      error ? reject(error) : resolve(bound),
    ),
  );
  process.stdout.write(`${JSON.stringify({ msg: 'listening', port, pid: process.pid })}\n`);
  const stop = () => server.tryShutdown(() => process.exit(0));
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main().catch((error: unknown) => {
  process.stderr.write(`noop-server failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
