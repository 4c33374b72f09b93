// Document shapes in MongoDB and their mapping to domain records.
//
//   users:            { _id: uid, name, metadata, createTime, updateTime, tokens: [TokenDoc],
//                       pending: [PendingArchiveDoc], ... }
//   archived_tokens:  { _id: tokenId, uid, ...token fields, archiveTime, reason }
//
// JSON objects (metadata, app_info) are stored as JSON text: callers may use keys such as "$where"
// or "a.b" that MongoDB field names cannot hold, and nothing ever queries inside them.
import { randomUUID } from 'node:crypto';
import type { ArchiveReason, ArchivedAuthToken, AuthToken, JsonObject, StoredAuthToken, User } from '../domain/model';
import { expiresAt } from '../domain/expiry';
import { oldestFirst } from '../domain/rules';
import { ownedCopy } from '../shared/owned-bytes';

export const USERS = 'users';
export const ARCHIVED_TOKENS = 'archived_tokens';

export interface TokenDoc {
  id: string;
  /** SHA-256 of the secret; the secret itself is never stored. */
  hash: Buffer;
  createTime: Date;
  updateTime: Date;
  lastUsedTime: Date | null;
  platform: string;
  deviceId: string;
  userAgent: string;
  appInfo: string | null;
  /** Absent on tokens that never expire (and on tokens from before expiry existed). */
  expireTime?: Date;
}

export interface UserDoc {
  _id: string;
  name: string;
  metadata: string | null;
  createTime: Date;
  updateTime: Date;
  /** Active tokens, oldest first (see TOKEN_ORDER). */
  tokens: TokenDoc[];
  /**
   * No active token expires before this (absent: none expires). Kept early rather than exact:
   * issuing lowers it, nothing else raises it but the expiry sweep, which visits the users it
   * names (indexed) and sets it again.
   */
  nextExpiry?: Date;
  /**
   * Which user of this uid the document is: a uid deleted and created again gets a new one, and its
   * archive starts empty. Absent on users created before it existed (their archive has none either).
   */
  generation?: string;
  /**
   * The token the latest write added (issuedTokenText), when that write issued one: its change is
   * the ISSUED event (token-event-stream.ts). Writes that issue nothing remove it. A string, not an
   * object: MongoDB records a pipeline update's change to an object field by sub-field, and an
   * unchanged device_id would then be missing from the event.
   */
  lastIssued?: string;
  /**
   * Tokens that have left `tokens`, in the same update, on their way to archived_tokens
   * (pending-archive.ts): the copy is keyed by token id, so copying twice is harmless.
   */
  pending?: PendingArchiveDoc[];
  /** The per-uid create limit's token bucket (token-writes.ts); absent: full. */
  createBucket?: { tokens: number; at: Date };
  /**
   * Set by DeleteUser: the user no longer exists, and the document only waits for its pending
   * tokens to be copied to the archive before it is removed. Every other query leaves it out.
   */
  deletedAt?: Date;
}

/** What a query of a user who exists adds: a deleted user's document may remain for a moment (deletedAt). */
export const EXISTING_USER = { deletedAt: { $exists: false } } as const;

export interface IssuedToken {
  id: string;
  deviceId: string;
  time: Date;
}

/**
 * IssuedToken as lastIssued holds it: "id|time in ms|device id" (the device id may hold "|"), or,
 * written before the atomic writes (still in the oplog a watch may resume from), as an object.
 */
export function parseIssuedToken(stored: string | IssuedToken): IssuedToken {
  if (typeof stored !== 'string') return stored;
  const [id, ms] = stored.split('|', 2) as [string, string];
  return { id, time: new Date(Number(ms)), deviceId: stored.slice(id.length + ms.length + 2) };
}

export interface ArchivedTokenDoc extends Omit<TokenDoc, 'id' | 'hash'> {
  _id: string;
  uid: string;
  /** The generation of the user the token belonged to (UserDoc.generation); absent before it existed. */
  generation?: string | null;
  archiveTime: Date;
  reason: ArchiveReason;
}

/**
 * An archived token still in its user's document: `write` names the update that moved it there,
 * and the hash stays until it is copied (RevokeAuthTokens answers by hash).
 */
export interface PendingArchiveDoc extends ArchivedTokenDoc {
  write: string;
  hash: Buffer;
}

/** The archive document of a pending one. */
export function archivedDocOf(pending: PendingArchiveDoc): ArchivedTokenDoc {
  const { write: _write, hash: _hash, ...doc } = pending;
  return doc;
}

/** domain/rules.ts's oldestFirst as a MongoDB $sort (create time, then id), so `$slice: -max` keeps the newest. */
export const TOKEN_ORDER = { createTime: 1, id: 1 } as const;

/** Stored tokens in the one token order (domain/rules.ts), oldest first. */
export function storedOldestFirst(a: Pick<TokenDoc, 'createTime' | 'id'>, b: Pick<TokenDoc, 'createTime' | 'id'>): number {
  return oldestFirst({ time: a.createTime, id: a.id }, { time: b.createTime, id: b.id });
}

/** Fields of a token that may leave the database: everything but the hash. */
export const PUBLIC_TOKEN_FIELDS = {
  id: 1,
  createTime: 1,
  updateTime: 1,
  lastUsedTime: 1,
  platform: 1,
  deviceId: 1,
  userAgent: 1,
  appInfo: 1,
  expireTime: 1,
} as const;

export const USER_FIELDS = { name: 1, metadata: 1, createTime: 1, updateTime: 1 } as const;

export function toJsonText(value: JsonObject | undefined): string | null {
  return value === undefined ? null : JSON.stringify(value);
}

function fromJsonText(text: string | null | undefined): JsonObject | undefined {
  return text == null ? undefined : (JSON.parse(text) as JsonObject);
}

export function toTokenDoc(token: StoredAuthToken): TokenDoc {
  return {
    id: token.tokenId,
    hash: token.tokenHash,
    createTime: token.createTime,
    updateTime: token.updateTime,
    lastUsedTime: token.lastUsedTime ?? null,
    platform: token.platform,
    deviceId: token.deviceId,
    userAgent: token.userAgent,
    appInfo: toJsonText(token.appInfo),
    ...(token.expireTime && { expireTime: token.expireTime }),
  };
}

export function toAuthToken(uid: string, doc: Omit<TokenDoc, 'hash'>): AuthToken {
  return {
    tokenId: doc.id,
    uid,
    createTime: doc.createTime,
    updateTime: doc.updateTime,
    lastUsedTime: doc.lastUsedTime ?? undefined,
    platform: doc.platform,
    deviceId: doc.deviceId,
    userAgent: doc.userAgent,
    appInfo: fromJsonText(doc.appInfo),
    expireTime: doc.expireTime ?? undefined,
  };
}

export function toStoredAuthToken(uid: string, doc: TokenDoc): StoredAuthToken {
  // Owned: a validation cache entry may keep it for long (see owned-bytes.ts).
  return { ...toAuthToken(uid, doc), tokenHash: ownedCopy(doc.hash) };
}

export function toUserDoc(user: User, tokens: TokenDoc[], idleMs: number | undefined): UserDoc {
  return {
    _id: user.uid,
    name: user.name,
    metadata: toJsonText(user.metadata),
    createTime: user.createTime,
    updateTime: user.updateTime,
    tokens,
    generation: randomUUID(),
    ...nextExpiryOf(tokens, idleMs),
    ...(tokens.length > 0 && { lastIssued: issuedTokenText(tokens.at(-1)!) }),
  };
}

/** lastIssued of a write that added `token` (parseIssuedToken reads it back). */
export function issuedTokenText(token: Pick<TokenDoc, 'id' | 'deviceId' | 'createTime'>): string {
  return `${token.id}|${token.createTime.getTime()}|${token.deviceId}`;
}

/** When the first of `tokens` expires (expiry.ts), as a UserDoc field (none when none expires). */
export function nextExpiryOf(tokens: readonly TokenDoc[], idleMs: number | undefined): { nextExpiry?: Date } {
  const times = tokens.flatMap((t) => expiresAt(t, idleMs)?.getTime() ?? []);
  return times.length === 0 ? {} : { nextExpiry: new Date(Math.min(...times)) };
}

export function toUser(doc: Pick<UserDoc, '_id' | keyof typeof USER_FIELDS>): User {
  return {
    uid: doc._id,
    name: doc.name,
    metadata: fromJsonText(doc.metadata),
    createTime: doc.createTime,
    updateTime: doc.updateTime,
  };
}

export function toArchivedAuthToken(doc: ArchivedTokenDoc): ArchivedAuthToken {
  return {
    authToken: toAuthToken(doc.uid, { ...doc, id: doc._id }),
    archiveTime: doc.archiveTime,
    reason: doc.reason,
  };
}
