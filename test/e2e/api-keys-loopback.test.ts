// API keys and the bind address: only a service bound to loopback may run without keys. Bound to
// 0.0.0.0, the process refuses to start (exit 2, naming API_KEYS) without a valid key, and with one
// it starts and enforces it; on loopback without keys it starts with a warning and lets callers in.
// Each case runs the service as its own process, with its own database. (The keys themselves, their
// scopes, rotation and the keys CLI are in api-keys.test.ts.)
import { randomUUID } from 'node:crypto';
import { status } from '@grpc/grpc-js';
import { MongoClient } from 'mongodb';
import { afterAll, beforeAll, describe, expect, inject, test } from 'vitest';
import { generateApiKey, keyEntry } from '../../src/domain/api-keys';
import { bearer, grpcError } from '../support/grpc-status';
import { type ServerProcess, startServerProcess } from '../support/server-process';

let mongo: MongoClient;
const processes: ServerProcess[] = [];
const processDbs: string[] = [];

beforeAll(async () => {
  mongo = await MongoClient.connect(inject('mongoUri'));
});

afterAll(async () => {
  for (const server of processes) await server.stop();
  for (const db of processDbs) await mongo.db(db).dropDatabase();
  await mongo?.close();
});

describe('without keys, only loopback', () => {
  function processEnv(extra: Record<string, string>): Record<string, string> {
    const db = `test_keys_${randomUUID().slice(0, 8)}`;
    processDbs.push(db);
    // API_KEYS / API_KEYS_FILE set empty, so nothing inherited from the environment counts.
    return { MONGODB_URI: inject('mongoUri'), MONGODB_DB: db, API_KEYS: '', API_KEYS_FILE: '', ...extra };
  }

  test('HOST=0.0.0.0 without any key: the process refuses to start, exit 2, naming API_KEYS', async () => {
    const started = startServerProcess(processEnv({ HOST: '0.0.0.0' }));
    const error = (await started.then(
      (server) => {
        processes.push(server);
        return undefined;
      },
      (e: Error) => e,
    ))!;
    expect(error).toBeInstanceOf(Error);
    expect(error.message).toContain('service process exited before listening');
    expect(error.message).toContain('[process exited: code 2, signal null]');
    expect(error.message).toContain('[stderr] Refusing to listen on 0.0.0.0 without API keys');
    expect(error.message).toContain('Configure API_KEYS or API_KEYS_FILE');
  });

  test('HOST=0.0.0.0 with an invalid key entry: exit 2, naming API_KEYS', async () => {
    const error = await startServerProcess(processEnv({ HOST: '0.0.0.0', API_KEYS: 'ops:full:not-a-hash' })).then(
      (server) => {
        processes.push(server);
        return new Error('started');
      },
      (e: Error) => e,
    );
    expect(error.message).toContain('[process exited: code 2, signal null]');
    expect(error.message).toContain('[stderr]   API_KEYS / API_KEYS_FILE: invalid API key entry "ops:full:not-a-hash…"');
  });

  test('HOST=0.0.0.0 with a key: starts, and enforces the key', async () => {
    const key = generateApiKey();
    const server = await startServerProcess(processEnv({ HOST: '0.0.0.0', API_KEYS: keyEntry('ops', 'full', key) }));
    processes.push(server);
    expect(server.output()).not.toContain('no API keys configured');
    await expect(server.users.createUser({ uid: 'anywhere', name: 'A' }, bearer(key))).resolves.toMatchObject({ user: { uid: 'anywhere' } });
    const error = await grpcError(server.users.getUser({ uid: 'anywhere' }));
    expect(error).toMatchObject({ code: status.UNAUTHENTICATED, reason: 'AUTH_ERR_APIKEY_NOT_FOUND' });
    await server.stop();
    expect(server.process.exitCode).toBe(0);
  });

  test('loopback without keys (the embedded default): starts with a warning, and lets callers in', async () => {
    const server = await startServerProcess(processEnv({ HOST: '127.0.0.1' }));
    processes.push(server);
    const warning = server
      .output()
      .split('\n')
      .map((line) => (line.startsWith('{') ? (JSON.parse(line) as Record<string, unknown>) : undefined))
      .find((entry) => entry?.msg === 'no API keys configured: every local caller has full access');
    expect(warning).toMatchObject({ level: 40, host: '127.0.0.1' });
    await expect(server.users.createUser({ uid: 'local', name: 'L' })).resolves.toMatchObject({ user: { uid: 'local' } });
    await server.stop();
    expect(server.process.exitCode).toBe(0);
  });
});
