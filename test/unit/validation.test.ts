import { describe, expect, test } from 'vitest';
import { DomainError, ErrorReason } from '../../src/domain/errors';
import { encodePageToken } from '../../src/domain/page-token';
import { RequestValidator } from '../../src/domain/validation';

function violations(run: (v: RequestValidator) => void): string[] {
  const v = new RequestValidator();
  run(v);
  try {
    v.check();
    return [];
  } catch (error) {
    expect(error).toBeInstanceOf(DomainError);
    expect((error as DomainError).reason).toBe(ErrorReason.BAD_REQUEST);
    return (error as DomainError).fieldViolations.map((f) => f.field);
  }
}

describe('uid', () => {
  test('is lower-cased, as CometChat does', () => {
    const v = new RequestValidator();
    expect(v.uid('uid', 'CometChat-UID_1')).toBe('cometchat-uid_1');
    expect(() => v.check()).not.toThrow();
  });

  test.each(['', 'has space', 'dot.ted', 'émile', 'a'.repeat(101), 'semi;colon'])('rejects %j', (uid) => {
    expect(violations((v) => v.uid('uid', uid))).toEqual(['uid']);
  });

  test('rejects KELVIN SIGN, the one character outside ASCII that lower-cases into a-z (to "k")', () => {
    expect('\u212Aelvin'.toLowerCase()).toBe('kelvin');
    expect(violations((v) => v.uid('uid', '\u212Aelvin'))).toEqual(['uid']);
  });

  test('accepts 100 characters', () => {
    expect(violations((v) => v.uid('uid', 'a'.repeat(100)))).toEqual([]);
  });
});

describe('limits', () => {
  test('name is 1..100 characters, counted as characters not bytes', () => {
    expect(violations((v) => v.name('name', 'é'.repeat(100)))).toEqual([]);
    expect(violations((v) => v.name('name', 'é'.repeat(101)))).toEqual(['name']);
    expect(violations((v) => v.name('name', '   '))).toEqual(['name']);
  });

  test('short texts are at most 255 characters', () => {
    expect(violations((v) => v.shortText('platform', 'x'.repeat(255)))).toEqual([]);
    expect(violations((v) => v.shortText('platform', 'x'.repeat(256)))).toEqual(['platform']);
  });

  test('JSON objects are at most 5 KB serialized', () => {
    const fits = { k: 'x'.repeat(5120 - '{"k":""}'.length) };
    expect(violations((v) => v.jsonObject('app_info', fits))).toEqual([]);
    expect(violations((v) => v.jsonObject('app_info', { ...fits, k: fits.k + 'x' }))).toEqual(['app_info']);
  });

  test('page_size: 0 means 100, above 100 is lowered, negative is rejected', () => {
    const v = new RequestValidator();
    expect(v.pageSize('page_size', 0)).toBe(100);
    expect(v.pageSize('page_size', 7)).toBe(7);
    expect(v.pageSize('page_size', 5000)).toBe(100);
    expect(violations((x) => x.pageSize('page_size', -1))).toEqual(['page_size']);
  });
});

test('every bad field is reported at once', () => {
  const fields = violations((v) => {
    v.uid('uid', 'NOT VALID');
    v.name('name', '');
    v.shortText('device_id', 'd'.repeat(300));
    v.tokenRef('auth_token', 'garbage');
  });
  expect(fields).toEqual(['uid', 'name', 'device_id', 'auth_token']);
});

describe('page tokens', () => {
  const cursor = { time: new Date('2026-01-02T03:04:05.678Z'), id: 'tid_abc' };

  test('round-trip for the same listing and uid', () => {
    const token = encodePageToken('tokens', 'alice', cursor);
    const v = new RequestValidator();
    expect(v.pageToken('page_token', 'tokens', 'alice', token)).toEqual(cursor);
    expect(() => v.check()).not.toThrow();
  });

  test('are rejected for another uid, another listing, or when altered', () => {
    const token = encodePageToken('tokens', 'alice', cursor);
    expect(violations((v) => v.pageToken('page_token', 'tokens', 'bob', token))).toEqual(['page_token']);
    expect(violations((v) => v.pageToken('page_token', 'archive', 'alice', token))).toEqual(['page_token']);
    expect(violations((v) => v.pageToken('page_token', 'tokens', 'alice', 'x' + token))).toEqual(['page_token']);
    expect(violations((v) => v.pageToken('page_token', 'tokens', 'alice', '!!!'))).toEqual(['page_token']);
  });

  test('an empty page token means the first page', () => {
    expect(new RequestValidator().pageToken('page_token', 'tokens', 'alice', '')).toBeUndefined();
  });
});
