import { describe, expect, test } from 'vitest';
import { crc32 } from 'node:zlib';
import {
  TOKEN_ID_PREFIX,
  TOKEN_PREFIX,
  hashToken,
  isTokenId,
  issueToken,
  parseToken,
  parseTokenRef,
} from '../../src/domain/token-format';

describe('issued tokens', () => {
  test('carry the prefix, the uid and a 36-character base62 tail', () => {
    const { token, tokenId } = issueToken('user_1-a');
    expect(token).toMatch(/^cat_user_1-a_[0-9A-Za-z]{36}$/);
    expect(tokenId).toMatch(/^tid_[0-9A-Za-z]{22}$/);
    expect(token.startsWith(TOKEN_PREFIX)).toBe(true);
    expect(tokenId.startsWith(TOKEN_ID_PREFIX)).toBe(true);
  });

  test('end with the base62 CRC32 of everything before the checksum', () => {
    const { token } = issueToken('alice');
    const body = token.slice(0, -6);
    let n = crc32(body);
    let expected = '';
    for (let i = 0; i < 6; i++) {
      expected = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'[n % 62] + expected;
      n = Math.floor(n / 62);
    }
    expect(token.slice(-6)).toBe(expected);
  });

  test('are stored as the SHA-256 of the whole token', () => {
    const issued = issueToken('alice');
    expect(issued.tokenHash).toEqual(hashToken(issued.token));
    expect(issued.tokenHash).toHaveLength(32);
  });

  test('are all distinct, and their secrets use every base62 character', () => {
    const tokens = Array.from({ length: 2000 }, () => issueToken('u').token);
    expect(new Set(tokens).size).toBe(2000);
    const chars = new Set(tokens.flatMap((t) => [...t.slice(-36, -6)]));
    expect(chars.size).toBe(62);
  });
});

describe('parseToken', () => {
  test('returns the uid and hash of a genuine token', () => {
    const { token, tokenHash } = issueToken('user_with_underscores');
    expect(parseToken(token)).toEqual({ uid: 'user_with_underscores', tokenHash });
  });

  test('rejects every single-character change (the checksum catches it)', () => {
    const { token } = issueToken('bob');
    const tail = token.length - 36;
    for (let i = tail; i < token.length; i++) {
      const replacement = token[i] === 'a' ? 'b' : 'a';
      expect(parseToken(token.slice(0, i) + replacement + token.slice(i + 1))).toBeUndefined();
    }
  });

  test.each([
    ['empty', ''],
    ['no prefix', 'alice_' + 'a'.repeat(36)],
    ['wrong prefix', 'ghp_alice_' + 'a'.repeat(36)],
    ['truncated', issueToken('alice').token.slice(0, -1)],
    ['extended', issueToken('alice').token + 'x'],
    ['upper-case uid', issueToken('alice').token.replace('alice', 'ALICE')],
    ['invalid uid characters', 'cat_al!ce_' + 'a'.repeat(36)],
    ['token id', 'tid_' + 'a'.repeat(22)],
  ])('rejects %s', (_case, value) => {
    expect(parseToken(value)).toBeUndefined();
  });
});

describe('parseTokenRef', () => {
  test('accepts a token_id as an id reference', () => {
    const { tokenId } = issueToken('alice');
    expect(isTokenId(tokenId)).toBe(true);
    expect(parseTokenRef(tokenId)).toEqual({ ref: { tokenId } });
  });

  test('accepts a secret as a hash reference and reports its uid', () => {
    const { token, tokenHash } = issueToken('alice');
    expect(parseTokenRef(token)).toEqual({ ref: { tokenHash }, uid: 'alice' });
  });

  test('rejects anything else', () => {
    expect(parseTokenRef('tid_short')).toBeUndefined();
    expect(parseTokenRef('hello')).toBeUndefined();
  });
});
