// The access log line a call's end writes (src/grpc/call-hooks.ts recordCall): the client's
// x-request-id as given, or a new one, and the request id not read at all when nothing is logged.
import { status } from '@grpc/grpc-js';
import { expect, test } from 'vitest';
import { type CallHooks, InFlightCalls, recordCall } from '../../src/grpc/call-hooks';

function hooks(infoEnabled: boolean) {
  const lines: Record<string, unknown>[] = [];
  const log = {
    isLevelEnabled: () => infoEnabled,
    info: (line: Record<string, unknown>) => void lines.push(line),
    error: (line: Record<string, unknown>) => void lines.push(line),
  };
  const value: CallHooks = { log: log as never, observe: () => () => undefined, inFlight: new InFlightCalls(), access: undefined as never };
  return { value, lines };
}

test('the access log line carries the client\'s request id and key, or a new request id', () => {
  const { value, lines } = hooks(true);
  recordCall(value, '/authtoken.v1.UserService/GetUser')(status.OK, { caller: 'backend', requestId: 'req-7' });
  recordCall(value, '/authtoken.v1.UserService/GetUser')(status.NOT_FOUND, { caller: undefined, requestId: undefined });
  expect(lines.map((l) => [l.method, l.code, l.key, l.requestId])).toEqual([
    ['authtoken.v1.UserService/GetUser', 'OK', 'backend', 'req-7'],
    ['authtoken.v1.UserService/GetUser', 'NOT_FOUND', undefined, expect.stringMatching(/^[0-9a-f-]{36}$/)],
  ]);
});

test('with info off, an OK call is not logged and its request id is never read', () => {
  const { value, lines } = hooks(false);
  let read = 0;
  const who = {
    caller: 'backend',
    get requestId() {
      read++;
      return 'req-8';
    },
  };
  recordCall(value, '/authtoken.v1.UserService/GetUser')(status.OK, who);
  expect([lines, read]).toEqual([[], 0]);
});
