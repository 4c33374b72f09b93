// The updates that change a user's tokens, each one atomic update of the user's document (an
// aggregation pipeline): the tokens that leave the active array move, in the same update, into
// `pending`, from which pending-archive.ts copies them to archived_tokens. No transaction, so a
// replica that dies mid-call leaves no lock behind, only pending tokens that any replica copies.
//
// Caller-given values enter the pipelines as $literal: a device id such as "$tokens" is a string,
// never a field path.
import { ArchiveReason } from '../domain/model';
import type { BucketLimit } from '../domain/token-bucket';
import type { TokenDoc } from './documents';

type Expr = unknown;

/**
 * A user's pending tokens, at most: they pile up only while copies to the archive keep failing,
 * and the document must stay far below MongoDB's 16 MB (1,000 tokens with 5 KB of app_info each
 * are about 6 MB). Past it, writes that would move more are refused (UNAVAILABLE) until copies
 * succeed again.
 */
export const MAX_PENDING = 1_000;
/** The filter clause of every write that moves tokens to pending. */
export const PENDING_HAS_ROOM = { [`pending.${MAX_PENDING - 1}`]: { $exists: false } };
/** A condition on `$$t`, a token of the array being filtered or mapped. */
export type TokenCondition = Expr;

/** The token fields an archived token keeps (all but id, which becomes _id, and the hash). */
const ARCHIVED_FIELDS = ['createTime', 'updateTime', 'lastUsedTime', 'platform', 'deviceId', 'userAgent', 'appInfo', 'expireTime'] as const;
/**
 * Working fields of the pipelines, removed in their last stage: every expression of one $set reads
 * the stage's input, so the stage that uses them can also drop them.
 */
const DROP_SCRATCH = { _kept: '$$REMOVE', _moved: '$$REMOVE', _new: '$$REMOVE' };

const tokensWhere = (input: Expr, cond: TokenCondition) => ({ $filter: { input, as: 't', cond } });
const literal = (value: unknown) => ({ $literal: value });

/** The pending archive entries of `tokens` (an array expression), as the write `write` moves them. */
function pendingOf(tokens: Expr, reason: ArchiveReason, now: Date, write: string): Expr {
  return {
    $map: {
      input: tokens,
      as: 't',
      in: {
        _id: '$$t.id',
        // Kept until the copy (archivedDocOf drops it): RevokeAuthTokens answers by hash.
        hash: '$$t.hash',
        uid: '$_id',
        generation: '$generation',
        ...Object.fromEntries(ARCHIVED_FIELDS.map((field) => [field, `$$t.${field}`])),
        archiveTime: now,
        reason: literal(reason),
        write: literal(write),
      },
    },
  };
}

/** $$t is the token `ref` names (by hash or by id). */
export function isTokenExpr(ref: { hash: Buffer } | { id: string }): TokenCondition {
  return 'hash' in ref ? { $eq: ['$$t.hash', literal(ref.hash)] } : { $eq: ['$$t.id', literal(ref.id)] };
}

/** $$t is one of the tokens with these hashes. */
export function hashInExpr(hashes: readonly Buffer[]): TokenCondition {
  return { $in: ['$$t.hash', literal(hashes)] };
}

/** $$t belongs to this device. */
export function ofDeviceExpr(deviceId: string): TokenCondition {
  return { $eq: ['$$t.deviceId', literal(deviceId)] };
}

/**
 * domain/expiry.ts's expiresAt of $$t, as an expression: its expire_time, or `idleMs` after its
 * last use (its issue if never used), whichever is first; null if it never expires.
 */
export function expiresAtExpr(idleMs: number | undefined): Expr {
  const idleUntil = idleMs === undefined ? null : { $add: [{ $ifNull: ['$$t.lastUsedTime', '$$t.createTime'] }, idleMs] };
  // $min ignores null and missing: null only when both are.
  return { $min: [{ $ifNull: ['$$t.expireTime', null] }, idleUntil] };
}

/** domain/expiry.ts's isExpired of $$t at `now`. */
export function isExpiredExpr(now: Date, idleMs: number | undefined): TokenCondition {
  const at = expiresAtExpr(idleMs);
  return { $and: [{ $ne: [at, null] }, { $lte: [at, now] }] };
}

/** The user's next expiry over `tokens`, as nextExpiry holds it: removed when none expires. */
function nextExpiryExpr(tokens: Expr, idleMs: number | undefined): Expr {
  return { $ifNull: [{ $min: { $map: { input: tokens, as: 't', in: expiresAtExpr(idleMs) } } }, '$$REMOVE'] };
}

/** What a write that moves tokens changes besides: the user's next expiry, or the user's end. */
export type AlsoChanging = { nextExpiry: { idleMs: number | undefined } } | { deletedAt: Date };

/**
 * Moves the active tokens matching `cond` to pending, as `reason`. Nothing else changes but
 * `lastIssued` (this write issued nothing: see UserDoc.lastIssued) and what `also` names: the
 * user's next expiry, recomputed from the tokens kept, or (DeleteUser) the user's end, which
 * leaves the document only until its pending tokens are copied.
 */
export function movingTokens(cond: TokenCondition, reason: ArchiveReason, now: Date, write: string, also?: AlsoChanging): object[] {
  return [
    { $set: { _moved: tokensWhere('$tokens', cond), _kept: tokensWhere('$tokens', { $not: [cond] }) } },
    {
      $set: {
        tokens: '$_kept',
        pending: { $concatArrays: [{ $ifNull: ['$pending', []] }, pendingOf('$_moved', reason, now, write)] },
        lastIssued: '$$REMOVE',
        ...(also && 'nextExpiry' in also && { nextExpiry: nextExpiryExpr('$_kept', also.nextExpiry.idleMs) }),
        ...(also && 'deletedAt' in also && { deletedAt: also.deletedAt, nextExpiry: '$$REMOVE', createBucket: '$$REMOVE' }),
        ...DROP_SCRATCH,
      },
    },
  ];
}

/** The create limit's bucket level, refilled to `now` (domain/token-bucket.ts's refill). */
function bucketTokens(now: Date, { perSecond, burst }: BucketLimit): Expr {
  const elapsedMs = { $max: [0, { $subtract: [now, { $ifNull: ['$createBucket.at', now] }] }] };
  return { $min: [burst, { $add: [{ $ifNull: ['$createBucket.tokens', burst] }, { $multiply: [elapsedMs, perSecond / 1000] }] }] };
}

/** The filter clause that lets an issuing write apply only while the bucket has a token. */
export function bucketHasToken(now: Date, limit: BucketLimit): object {
  return { $expr: { $gte: [bucketTokens(now, limit), 1] } };
}

export interface Issuing {
  token: TokenDoc;
  max: number;
  replaceDeviceId: string | undefined;
  /** The new token's expiry (expiry.ts), as computed for its requested create time. */
  expiresAt: Date | undefined;
  createLimit: BucketLimit | undefined;
  now: Date;
  write: string;
}

/**
 * Issues `token`: the user's tokens of `replaceDeviceId` move to pending as REPLACED, the new one
 * is added strictly newest (stamped 1 ms after the newest active token when the clock says
 * otherwise, so it is never itself evicted), and the oldest beyond `max` move to pending as
 * EVICTED: the capped array ($slice keeps the newest `max`), with nothing dropped.
 *
 * Every stage is a pass over the document. Without a device to replace (the common create) every
 * active token is kept, so no stage filters the array.
 */
export function issuing({ token, max, replaceDeviceId, expiresAt, createLimit, now, write }: Issuing): object[] {
  const replaced = replaceDeviceId === undefined ? undefined : ofDeviceExpr(replaceDeviceId);
  const kept = replaced === undefined ? '$tokens' : '$_kept';
  const createTime = { $max: [token.createTime, { $add: [{ $max: `${kept}.createTime` }, 1] }] };
  // The new token is the newest, so the evicted are the oldest kept: all of them but max - 1.
  const evictedCount = { $subtract: [{ $size: kept }, max - 1] };
  // Below the cap nothing is evicted: $cond spares $slice a count of 0 or less.
  const evicted = { $cond: [{ $gt: [evictedCount, 0] }, { $slice: [kept, evictedCount] }, []] };
  return [
    ...(replaced === undefined ? [] : [{ $set: { _moved: tokensWhere('$tokens', replaced), _kept: tokensWhere('$tokens', { $not: [replaced] }) } }]),
    { $set: { _new: { $mergeObjects: [literal(token), { createTime, updateTime: createTime }] } } },
    {
      $set: {
        tokens: { $slice: [{ $concatArrays: [kept, ['$_new']] }, -max] },
        pending: {
          $concatArrays: [
            { $ifNull: ['$pending', []] },
            ...(replaced === undefined ? [] : [pendingOf('$_moved', ArchiveReason.REPLACED, now, write)]),
            pendingOf(evicted, ArchiveReason.EVICTED, now, write),
          ],
        },
        // documents.ts's issuedTokenText, here because the create time is stamped in this update.
        lastIssued: { $concat: [literal(token.id), '|', { $toString: { $toLong: '$_new.createTime' } }, '|', literal(token.deviceId)] },
        ...(expiresAt && { nextExpiry: { $min: ['$nextExpiry', expiresAt] } }),
        // `at` never moves back: a replica whose clock is behind must not refill the bucket twice.
        ...(createLimit && { createBucket: { tokens: { $subtract: [bucketTokens(now, createLimit), 1] }, at: { $max: [now, '$createBucket.at'] } } }),
        ...DROP_SCRATCH,
      },
    },
  ];
}
