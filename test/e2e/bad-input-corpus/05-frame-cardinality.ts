// 5. Frames that do not carry exactly one message (raw HTTP/2 only).
import { grpcFrame } from '../../support/wire/grpc-frame';
import { CARDINALITY, type Case, type Ctx, liveBase } from './cases';
import { encode, METHOD_NAMES } from './methods';

export function frameCardinality(): Case[] {
  const cases: Case[] = [];
  for (const method of METHOD_NAMES) {
    const frames: Record<string, (c: Ctx) => Buffer> = {
      'an empty body': () => Buffer.alloc(0),
      'half a frame header': () => Buffer.from([0, 0, 0]),
      'a frame declaring more bytes than sent': (c) => {
        const payload = encode(method, liveBase(method, c));
        return grpcFrame(payload, payload.length + 10);
      },
      'two messages': (c) => Buffer.concat([grpcFrame(encode(method, liveBase(method, c))), grpcFrame(encode(method, liveBase(method, c)))]),
    };
    for (const [name, body] of Object.entries(frames)) {
      cases.push({ id: `${method}: ${name}`, method, category: 'frame cardinality', expected: CARDINALITY, body });
    }
  }
  return cases;
}
