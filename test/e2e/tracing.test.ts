// OpenTelemetry tracing is off by default and switched on by the standard OTEL_* variables.
import { randomUUID } from 'node:crypto';
import { afterEach, expect, inject, test } from 'vitest';
import { tracingRequested } from '../../src/observability/tracing';
import { type ServerProcess, startServerProcess } from '../support/server-process';

let server: ServerProcess | undefined;
afterEach(async () => {
  await server?.stop();
  server = undefined;
});

test('only OTEL_* variables that ask for traces switch tracing on', () => {
  expect(tracingRequested({})).toBe(false);
  expect(tracingRequested({ OTEL_TRACES_EXPORTER: 'none' })).toBe(false);
  expect(tracingRequested({ OTEL_TRACES_EXPORTER: 'console' })).toBe(true);
  expect(tracingRequested({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' })).toBe(true);
  expect(tracingRequested({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', OTEL_SDK_DISABLED: 'true' })).toBe(false);
});

async function spansPrintedFor(env: Record<string, string>): Promise<string> {
  server = await startServerProcess({
    MONGODB_URI: inject('mongoUri'),
    MONGODB_DB: `test_tracing_${randomUUID().slice(0, 8)}`,
    ...env,
  });
  await server.users.createUser({ uid: 'traced', name: 'Traced' });
  await server.users.getUser({ uid: 'traced' });
  await server.stop(); // the console exporter flushes on shutdown
  return server.output();
}

test('with OTEL_TRACES_EXPORTER=console, a call yields a gRPC server span and MongoDB operation spans', async () => {
  const output = await spansPrintedFor({ OTEL_TRACES_EXPORTER: 'console' });
  expect(output).toContain("name: 'grpc.authtoken.v1.UserService/GetUser'");
  expect(output).toContain("name: 'find users'");
  expect(output).toContain("name: 'insert users'");
});

test('without OTEL_* variables, no span is produced', async () => {
  const output = await spansPrintedFor({});
  expect(output).toContain('"msg":"listening"');
  expect(output).not.toContain('traceId');
  expect(output).not.toContain("name: 'grpc.");
});
