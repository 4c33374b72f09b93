// 1. Invalid UTF-8 in every string field, in Struct keys and values, and in update_mask paths.
import { lenField } from '../../support/wire/protobuf-writer';
import { structBytes } from '../../support/wire/struct-writer';
import { type Case, liveBase, UNDECODABLE, without } from './cases';
import { METHOD_NAMES, STRING_FIELDS, STRUCT_FIELDS } from './methods';

const BAD_UTF8: Record<string, number[]> = {
  'ff fe': [0xff, 0xfe],
  'overlong "/"': [0xc0, 0xaf],
  'UTF-16 surrogate': [0xed, 0xa0, 0x80],
  'truncated "€"': [0xe2, 0x82],
  'above U+10FFFF': [0xf4, 0x90, 0x80, 0x80],
};

export function badUtf8(): Case[] {
  const cases: Case[] = [];
  for (const method of METHOD_NAMES) {
    for (const [field, number] of Object.entries(STRING_FIELDS[method])) {
      for (const [name, seq] of Object.entries(BAD_UTF8)) {
        cases.push({
          id: `${method}: ${field} with invalid UTF-8 (${name})`,
          method,
          category: 'bad UTF-8',
          expected: UNDECODABLE,
          bytes: (c) => {
            const base = liveBase(method, c);
            const value = Buffer.concat([Buffer.from(String(base[field] || 'x')), Buffer.from(seq)]);
            return without(method, base, field, lenField(number, value));
          },
        });
      }
    }
    const struct = STRUCT_FIELDS[method];
    if (struct) {
      const [field, number] = struct;
      for (const [name, seq] of Object.entries(BAD_UTF8)) {
        cases.push({
          id: `${method}: ${field} with an invalid UTF-8 key (${name})`,
          method,
          category: 'bad UTF-8',
          expected: UNDECODABLE,
          bytes: (c) => without(method, liveBase(method, c), field, lenField(number, structBytes(Buffer.from([0x6b, ...seq]), 'v'))),
        });
        cases.push({
          id: `${method}: ${field} with an invalid UTF-8 string value (${name})`,
          method,
          category: 'bad UTF-8',
          expected: UNDECODABLE,
          bytes: (c) => without(method, liveBase(method, c), field, lenField(number, structBytes('k', Buffer.from([0x76, ...seq])))),
        });
      }
    }
  }
  for (const [name, seq] of Object.entries(BAD_UTF8)) {
    cases.push({
      id: `UpdateAuthToken: update_mask path with invalid UTF-8 (${name})`,
      method: 'UpdateAuthToken',
      category: 'bad UTF-8',
      expected: UNDECODABLE,
      bytes: (c) => without('UpdateAuthToken', liveBase('UpdateAuthToken', c), 'updateMask', lenField(6, lenField(1, Buffer.from([0x70, ...seq])))),
    });
  }
  return cases;
}
