import { describe, expect, test } from 'vitest';
import { descriptorSet } from '../../src/grpc/descriptors';
import { structChecker } from '../../src/grpc/struct-check';
import { CreateAuthTokenRequest } from '../../gen/authtoken/v1/auth_token_service';

const structViolations = structChecker(descriptorSet().registry.getMessage('authtoken.v1.CreateAuthTokenRequest')!)!;
const encode = (appInfo: Record<string, unknown>) => Buffer.from(CreateAuthTokenRequest.encode(CreateAuthTokenRequest.fromPartial({ uid: 'u', appInfo })).finish());
/** app_info (field 6) holding the Struct content `struct`, after `before`. */
const withRawAppInfo = (struct: Buffer, before = Buffer.alloc(0)) => Buffer.concat([before, Buffer.from([0x32, struct.length]), struct]);
/** A Struct entry {key: number}, as the generated encoder writes it. */
const numberEntry = (key: string, n: number) => {
  const value = Buffer.alloc(9);
  value[0] = 0x11;
  value.writeDoubleLE(n, 1);
  const entry = Buffer.concat([Buffer.from([0x0a, key.length]), Buffer.from(key), Buffer.from([0x12, value.length]), value]);
  return Buffer.concat([Buffer.from([0x0a, entry.length]), entry]);
};

describe('accepted: what JSON holds exactly', () => {
  test.each([
    ['an empty object', {}],
    ['null, booleans, strings and numbers', { n: null, t: true, f: false, s: 'text', i: 42, x: -1.5e300, tiny: 5e-324 }],
    ['nested lists and objects', { a: [1, 'two', [null, { b: [] }], {}] }],
    ['keys JSON allows: empty, spaced, dotted, $-prefixed, non-ASCII, "constructor"', { '': 1, 'a b': 2, 'a.b': 3, $set: 4, 'κλειδί': 5, constructor: 6 }],
  ])('%s', (_name, appInfo) => {
    expect(structViolations(encode(appInfo))).toEqual([]);
  });
});

describe('refused, naming app_info and where', () => {
  test('"__proto__", even after an unknown group at the top level of the request', () => {
    const group = Buffer.from([0xa3, 0x06, 0x08, 0x01, 0xa4, 0x06]); // field 100: START_GROUP, {1: 1}, END_GROUP
    const violations = structViolations(withRawAppInfo(numberEntry('__proto__', 1), group));
    expect(violations).toEqual([{ field: 'app_info', description: 'The key "__proto__" (at app_info) is not accepted.' }]);
  });

  test('a non-finite number, with its path', () => {
    expect(structViolations(withRawAppInfo(numberEntry('score', NaN)))).toEqual([
      { field: 'app_info', description: 'app_info.score is NaN, which is not a JSON number.' },
    ]);
  });

  test('a long or unusual key is quoted and shortened in the path', () => {
    const key = `odd key ${'k'.repeat(60)}`;
    const [violation] = structViolations(withRawAppInfo(numberEntry(key, -Infinity)));
    expect(violation?.description).toBe(`app_info[${JSON.stringify(`${key.slice(0, 40)}…`)}] is -Infinity, which is not a JSON number.`);
  });
});

test('requests without a Struct field get no checker', () => {
  expect(structChecker(descriptorSet().registry.getMessage('authtoken.v1.GetUserRequest')!)).toBeUndefined();
});
