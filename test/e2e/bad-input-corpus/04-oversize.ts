// 4. Messages over the 64 KiB receive limit (grpc-js: RESOURCE_EXHAUSTED), and one exactly at it.
import { MAX_REQUEST_BYTES } from '../../../src/grpc/transport-limits';
import { grpcFrame } from '../../support/wire/grpc-frame';
import { lenField } from '../../support/wire/protobuf-writer';
import { bad, type Case, TOO_LARGE } from './cases';
import { encode, type Method, type Request } from './methods';

const MAX_MESSAGE = MAX_REQUEST_BYTES;

function padTo(method: Method, request: Request, field: string, total: number): Request {
  const base = encode(method, { ...request, [field]: '' }).length;
  // tag (1 byte) + length varint (3 bytes for these sizes) + payload.
  return { ...request, [field]: 'n'.repeat(total - base - 1 - 3) };
}
export function oversize(): Case[] {
  const cases: Case[] = [];
  cases.push(
    {
      id: 'CreateUser: a message of exactly 64 KiB (within the limit: its 100-character name rule applies)',
      method: 'CreateUser',
      category: 'oversize',
      expected: bad('name'),
      typed: () => padTo('CreateUser', { uid: 'bi-big' }, 'name', MAX_MESSAGE),
    },
    {
      id: 'CreateUser: a message of 64 KiB + 1 byte',
      method: 'CreateUser',
      category: 'oversize',
      expected: TOO_LARGE,
      typed: () => padTo('CreateUser', { uid: 'bi-big' }, 'name', MAX_MESSAGE + 1),
    },
    {
      id: 'CreateAuthToken: a 1 MiB user_agent',
      method: 'CreateAuthToken',
      category: 'oversize',
      expected: TOO_LARGE,
      typed: () => ({ uid: 'bi-seed', userAgent: 'u'.repeat(1024 * 1024) }),
    },
    {
      id: 'ValidateAuthToken: a 300 KiB app_info',
      method: 'ValidateAuthToken',
      category: 'oversize',
      expected: TOO_LARGE,
      typed: (c) => ({ authToken: c.seedSecret, appInfo: { blob: 'b'.repeat(300 * 1024) } }),
    },
    {
      id: 'GetUser: a 300 KiB unknown field',
      method: 'GetUser',
      category: 'oversize',
      expected: TOO_LARGE,
      bytes: () => Buffer.concat([lenField(1, 'bi-seed'), lenField(99, Buffer.alloc(300 * 1024))]),
    },
    {
      id: 'GetUser: a frame header declaring 300 KiB (10 bytes sent)',
      method: 'GetUser',
      category: 'oversize',
      expected: TOO_LARGE,
      body: () => grpcFrame(Buffer.alloc(10), 300 * 1024),
    },
  );
  return cases;
}
