// 10. Unknown fields: with invalid content (INVALID_ARGUMENT), with unknown users (NOT_FOUND).
import { groupField, i32Field, i64Field, lenField, varintField } from '../../support/wire/protobuf-writer';
import { bad, type Case, liveBase, safeBase, safeOutcome } from './cases';
import { encode, METHOD_NAMES, REQUIRED } from './methods';

export const UNKNOWN_FIELDS: Record<string, Buffer> = {
  'varint field 15': varintField(15, 7),
  'length-delimited field 99': lenField(99, 'surprise'),
  'fixed32 field 2^29-1 (the largest)': i32Field(2 ** 29 - 1),
  'a group, field 1000': groupField(1000),
  'fixed64 field 19000 (reserved range)': i64Field(19000),
};
export function unknownFields(): Case[] {
  const cases: Case[] = [];
  for (const method of METHOD_NAMES) {
    const [field, , protoName] = REQUIRED[method];
    for (const [name, unknown] of Object.entries(UNKNOWN_FIELDS)) {
      cases.push({
        id: `${method}: unknown ${name} with an invalid ${protoName}`,
        method,
        category: 'unknown field + invalid',
        expected: bad(protoName),
        bytes: (c) => Buffer.concat([unknown, encode(method, { ...liveBase(method, c), [field]: field === 'uid' ? 'Not a uid!' : 'cat_nope' }), unknown]),
      });
    }
  }
  for (const method of ['DeleteUser', 'CreateAuthToken', 'UpdateAuthToken', 'DeleteAuthToken', 'FlushAuthTokens', 'ValidateAuthToken'] as const) {
    for (const [name, unknown] of Object.entries(UNKNOWN_FIELDS)) {
      cases.push({
        id: `${method}: unknown ${name}, naming what does not exist`,
        method,
        category: 'unknown field + not found',
        expected: safeOutcome(method),
        bytes: (c) => Buffer.concat([encode(method, safeBase(method, c)), unknown]),
      });
    }
  }
  return cases;
}
