// 2. The required field with another wire type: parsers skip it as unknown, so it is missing.
import { groupField, i32Field, i64Field, lenField, varintField } from '../../support/wire/protobuf-writer';
import { bad, type Case, liveBase, without } from './cases';
import { METHOD_NAMES, REQUIRED } from './methods';

export function wrongWireTypes(): Case[] {
  const cases: Case[] = [];
  for (const method of METHOD_NAMES) {
    const [field, number, protoName] = REQUIRED[method];
    const wrong: Record<string, Buffer> = {
      'a varint': varintField(number, 12345),
      'a 64-bit fixed value': i64Field(number),
      'a 32-bit fixed value': i32Field(number),
      'a group': groupField(number, lenField(1, 'bi-seed')),
    };
    for (const [name, encoded] of Object.entries(wrong)) {
      cases.push({
        id: `${method}: ${protoName} sent as ${name}`,
        method,
        category: 'wrong wire type',
        expected: bad(protoName),
        bytes: (c) => without(method, liveBase(method, c), field, encoded),
      });
    }
  }
  return cases;
}
