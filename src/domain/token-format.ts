// Token format, modelled on GitHub's: a fixed prefix that secret scanners can match, the routing uid,
// a random secret and a CRC32 checksum, so a leaked token can be recognised and verified offline.
//
//   cat_<uid>_<30 base62 secret><6 base62 CRC32 of everything before it>
//
// The uid is what makes validation a single indexed read of one user document (and, in a cluster
// sharded by uid, of one shard). The secret's 30 base62 characters carry 178 bits from the CSPRNG.
// Only the SHA-256 of the whole token is ever stored.
import { hash, randomBytes, timingSafeEqual } from 'node:crypto';
import { crc32 } from 'node:zlib';
import type { TokenRef } from './model';
import { UID_PATTERN } from './rules';

export const TOKEN_PREFIX = 'cat_';
export const TOKEN_ID_PREFIX = 'tid_';
const SECRET_CHARS = 30;
const CHECKSUM_CHARS = 6;
const TOKEN_ID_RANDOM_CHARS = 22;

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const TAIL_PATTERN = new RegExp(`^[0-9A-Za-z]{${SECRET_CHARS + CHECKSUM_CHARS}}$`);
const TOKEN_ID_PATTERN = new RegExp(`^${TOKEN_ID_PREFIX}[0-9A-Za-z]{${TOKEN_ID_RANDOM_CHARS}}$`);

export interface IssuedToken {
  /** The secret, returned to the caller once and never stored. */
  token: string;
  tokenId: string;
  tokenHash: Buffer;
}

export function issueToken(uid: string): IssuedToken {
  const body = `${TOKEN_PREFIX}${uid}_${randomBase62(SECRET_CHARS)}`;
  const token = body + checksumOf(body);
  return { token, tokenId: TOKEN_ID_PREFIX + randomBase62(TOKEN_ID_RANDOM_CHARS), tokenHash: hashToken(token) };
}

/** The uid and hash of a well-formed token with a valid checksum; undefined for anything else. */
export function parseToken(token: string): { uid: string; tokenHash: Buffer } | undefined {
  if (!token.startsWith(TOKEN_PREFIX)) return undefined;
  const lastUnderscore = token.lastIndexOf('_');
  const uid = token.slice(TOKEN_PREFIX.length, lastUnderscore);
  const tail = token.slice(lastUnderscore + 1);
  if (!UID_PATTERN.test(uid) || !TAIL_PATTERN.test(tail)) return undefined;
  const checksumStart = token.length - CHECKSUM_CHARS;
  if (checksumOf(token.slice(0, checksumStart)) !== token.slice(checksumStart)) return undefined;
  return { uid, tokenHash: hashToken(token) };
}

export function isTokenId(value: string): boolean {
  return TOKEN_ID_PATTERN.test(value);
}

/** A secret or a token_id, as the methods that name a token accept; undefined if it is neither. */
export function parseTokenRef(value: string): { ref: TokenRef; uid?: string } | undefined {
  if (isTokenId(value)) return { ref: { tokenId: value } };
  const parsed = parseToken(value);
  return parsed && { ref: { tokenHash: parsed.tokenHash }, uid: parsed.uid };
}

export function hashToken(token: string): Buffer {
  return hash('sha256', token, 'buffer');
}

export function sameHash(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

function checksumOf(body: string): string {
  let n = crc32(body);
  let out = '';
  for (let i = 0; i < CHECKSUM_CHARS; i++) {
    out = BASE62[n % 62] + out;
    n = Math.floor(n / 62);
  }
  return out;
}

export function randomBase62(length: number): string {
  let out = '';
  while (out.length < length) {
    for (const byte of randomBytes(length * 2)) {
      // 248 = 4 * 62: rejecting larger bytes keeps every character equally likely.
      if (byte < 248 && out.length < length) out += BASE62[byte % 62];
    }
  }
  return out;
}
