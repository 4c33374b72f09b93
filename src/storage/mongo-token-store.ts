// The TokenStore on MongoDB: one document per user holding its active tokens in a capped array,
// and an archive collection for every token that stops being active.
//
// Every change to a user's tokens is one atomic update of its document (token-writes.ts): tokens
// that stop being active move into the document's `pending` list in that same update, and are
// copied to the archive right after (token-moves.ts, pending-archive.ts). No transaction anywhere.
// The revoking writes return the cluster time at which they applied (committed-writes.ts), for the
// cache.
import type { Collection, Db, MongoClient } from 'mongodb';
import { authTokenNotFound, serviceUnavailable, tooManyRequests, uidAlreadyExists, uidNotFound } from '../domain/errors';
import { ArchiveReason, type PageCursor, type StoredAuthToken, type TokenRef, type User } from '../domain/model';
import type { ArchivedUsers, FlushScope, IssueOptions, IssueResult, TokenChanges } from '../domain/token-store';
import type { Committed, CommittingTokenStore } from './committed-writes';
import {
  ARCHIVED_TOKENS,
  type ArchivedTokenDoc,
  archivedDocOf,
  EXISTING_USER,
  PUBLIC_TOKEN_FIELDS,
  type TokenDoc,
  USER_FIELDS,
  USERS,
  type UserDoc,
  toArchivedAuthToken,
  toAuthToken,
  toJsonText,
  toStoredAuthToken,
  toTokenDoc,
  toUser,
  toUserDoc,
} from './documents';
import { timeLimit } from './time-limits';
import type { Deadline } from '../domain/deadline';
import { expiresAt } from '../domain/expiry';
import { refill, waitForToken } from '../domain/token-bucket';
import {
  bucketHasToken,
  hashInExpr,
  isExpiredExpr,
  isTokenExpr,
  issuing,
  MAX_PENDING,
  ofDeviceExpr,
  PENDING_HAS_ROOM,
  type TokenCondition,
} from './token-writes';
import { PENDING_STATE, PendingArchive } from './pending-archive';
import { movedBy, newWrite, TokenMoves } from './token-moves';
import { listArchivedTokens } from './archived-tokens-listing';
import { EXPIRY_INDEX } from './indexes';

const DUPLICATE_KEY = 11000;
/**
 * The last-use write rides on the login check, so it may not hold it up: it is best effort, and
 * a slow database (or a document under heavy writes) must not delay the answer.
 */
const LAST_USE_WRITE_BUDGET_MS = 250;

export class MongoTokenStore implements CommittingTokenStore {
  private readonly users: Collection<UserDoc>;
  private readonly archive: Collection<ArchivedTokenDoc>;
  readonly pending: PendingArchive;
  private readonly moves: TokenMoves;

  /** @param idleMs the server's idle timeout (expiry.ts); undefined: off. */
  constructor(
    private readonly client: MongoClient,
    db: Db,
    private readonly idleMs?: number,
  ) {
    this.users = db.collection<UserDoc>(USERS);
    this.archive = db.collection<ArchivedTokenDoc>(ARCHIVED_TOKENS);
    this.pending = new PendingArchive(this.users, this.archive);
    this.moves = new TokenMoves(client, this.users, this.pending);
  }

  async createUser(user: User, firstToken: StoredAuthToken | undefined, deadline: Deadline): Promise<void> {
    const doc = toUserDoc(user, firstToken ? [toTokenDoc(firstToken)] : [], this.idleMs);
    try {
      await this.users.insertOne(doc, timeLimit(deadline));
    } catch (error) {
      if ((error as { code?: unknown }).code !== DUPLICATE_KEY) throw error;
      // A user deleted a moment ago whose document waits for its archive copy: finish it first.
      // (Gone since the insert failed: its copy just finished. Insert again.)
      const existing = await this.users.findOne({ _id: user.uid }, { projection: { deletedAt: 1 }, ...timeLimit(deadline) });
      if (existing && existing.deletedAt === undefined) throw uidAlreadyExists(user.uid);
      if (existing) await this.pending.finish(user.uid);
      await this.users.insertOne(doc, timeLimit(deadline)).catch((again: unknown) => {
        throw (again as { code?: unknown }).code === DUPLICATE_KEY ? uidAlreadyExists(user.uid) : again;
      });
    }
  }

  async getUser(uid: string, deadline: Deadline): Promise<User | undefined> {
    const doc = await this.users.findOne({ _id: uid, ...EXISTING_USER }, { projection: USER_FIELDS, ...timeLimit(deadline) });
    return doc ? toUser(doc) : undefined;
  }

  async deleteUser(uid: string, now: Date, deadline: Deadline): Promise<Committed<number>> {
    const { moved, committedAt } = await this.moves.move(uid, {}, true, ArchiveReason.USER_DELETED, now, deadline, { deletedAt: now });
    if (!moved) throw await this.noSuchUser(uid, deadline);
    return { result: moved.length, committedAt };
  }

  async issueToken(token: StoredAuthToken, options: IssueOptions, now: Date, deadline: Deadline): Promise<Committed<IssueResult>> {
    const { uid } = token;
    const doc = toTokenDoc(token);
    const write = newWrite();
    const { createLimit } = options;
    const { result: after, committedAt } = await this.moves.applied((session) =>
      this.users.findOneAndUpdate(
        { _id: uid, ...EXISTING_USER, ...PENDING_HAS_ROOM, ...(createLimit && bucketHasToken(now, createLimit)) },
        issuing({
          token: doc,
          max: options.maxTokensPerUser,
          replaceDeviceId: options.replaceDeviceId,
          expiresAt: expiresAt(doc, this.idleMs),
          createLimit,
          now,
          write,
        }),
        { session, projection: { ...PENDING_STATE, tokens: { $slice: -1 } }, returnDocument: 'after', ...timeLimit(deadline) },
      ),
    );
    if (!after) throw await this.notIssued(uid, now, options, deadline);
    await this.moves.copyPending(after, deadline);
    const moved = movedBy(after, write);
    const idsOf = (reason: ArchiveReason) => moved.filter((p) => p.reason === reason).map((p) => p._id);
    return {
      // The newest token is the one just added (token-writes.ts stamps it so).
      result: { createTime: after.tokens.at(-1)!.createTime, evictedTokenIds: idsOf(ArchiveReason.EVICTED), replacedTokenIds: idsOf(ArchiveReason.REPLACED) },
      committedAt: moved.length > 0 ? committedAt : undefined,
    };
  }

  /** Why an issuing write matched no document: no such user, the user's create limit, or its archive backlog. */
  private async notIssued(uid: string, now: Date, { createLimit }: IssueOptions, deadline: Deadline) {
    const user = await this.existingUser(uid, deadline, { createBucket: 1 });
    if (!user || !createLimit) return uidNotFound(uid);
    const bucket = user.createBucket && { tokens: user.createBucket.tokens, at: user.createBucket.at.getTime() };
    return tooManyRequests(Math.max(1, waitForToken(refill(bucket, now.getTime(), createLimit), createLimit)), 'uid');
  }

  async listTokens(uid: string, deadline: Deadline) {
    const user = await this.users.findOne({ _id: uid, ...EXISTING_USER }, { projection: { tokens: PUBLIC_TOKEN_FIELDS }, ...timeLimit(deadline) });
    if (!user) throw uidNotFound(uid);
    return user.tokens.map((t) => toAuthToken(uid, t));
  }

  async getToken(uid: string, ref: TokenRef, deadline: Deadline) {
    const match = tokenFilter(ref);
    const user = await this.users.findOne(
      { _id: uid, tokens: { $elemMatch: match } },
      { projection: { tokens: { $elemMatch: match } }, ...timeLimit(deadline) },
    );
    if (!user) throw await this.notFound(uid, deadline);
    return toAuthToken(uid, user.tokens[0]!);
  }

  async updateToken(uid: string, ref: TokenRef, changes: TokenChanges, now: Date, deadline: Deadline) {
    const match = tokenFilter(ref);
    const user = await this.users.findOneAndUpdate(
      { _id: uid, tokens: { $elemMatch: match } },
      { $set: { ...tokenFieldUpdates(changes), 'tokens.$.updateTime': now } },
      { projection: { tokens: { $elemMatch: match } }, returnDocument: 'after', ...timeLimit(deadline) },
    );
    if (!user) throw await this.notFound(uid, deadline);
    return toAuthToken(uid, user.tokens[0]!);
  }

  async deleteToken(uid: string, ref: TokenRef, now: Date, deadline: Deadline) {
    const match = tokenFilter(ref);
    const { moved, committedAt } = await this.moves.move(uid, { tokens: { $elemMatch: match } }, isTokenExpr(match), ArchiveReason.DELETED, now, deadline);
    if (!moved) throw await this.notFound(uid, deadline);
    return { result: toArchivedAuthToken(archivedDocOf(moved[0]!)), committedAt };
  }

  async flushTokens(uid: string, { except, deviceId }: FlushScope, now: Date, deadline: Deadline): Promise<Committed<number>> {
    const kept = except && tokenFilter(except);
    const flushed: TokenCondition[] = [
      ...(kept ? [{ $not: [isTokenExpr(kept)] }] : []),
      ...(deviceId !== undefined ? [ofDeviceExpr(deviceId)] : []),
    ];
    const { moved, committedAt } = await this.moves.move(
      uid,
      kept ? { tokens: { $elemMatch: kept } } : {},
      flushed.length === 0 ? true : { $and: flushed },
      ArchiveReason.FLUSHED,
      now,
      deadline,
    );
    if (!moved) throw kept ? await this.notFound(uid, deadline) : await this.noSuchUser(uid, deadline);
    return { result: moved.length, committedAt: moved.length > 0 ? committedAt : undefined };
  }

  async revokeTokens(uid: string, tokenHashes: readonly Buffer[], now: Date, deadline: Deadline): Promise<Committed<Buffer[]>> {
    const { moved, committedAt } = await this.moves.move(
      uid,
      { tokens: { $elemMatch: { hash: { $in: [...tokenHashes] } } } },
      hashInExpr(tokenHashes),
      ArchiveReason.LEAKED,
      now,
      deadline,
    );
    // An unknown user revokes nothing (token-store.ts), unless its archive backlog is what stopped the write.
    if (!moved) await this.existingUser(uid, deadline);
    const revoked = (moved ?? []).map((p) => p.hash);
    return { result: revoked, committedAt: revoked.length > 0 ? committedAt : undefined };
  }

  /**
   * The one query not by uid (deploy/mongodb/README.md): in a sharded cluster every shard answers
   * it from its own next_expiry index, reading only the users that are due. A walk in uid order
   * would read every user with an expiring token on every pass.
   */
  async usersWithExpiredTokens(now: Date, limit: number, deadline: Deadline): Promise<string[]> {
    const users = await this.users
      .find({ nextExpiry: { $lte: now } }, { projection: { _id: 1 }, sort: { nextExpiry: 1 }, limit, hint: EXPIRY_INDEX, ...timeLimit(deadline) })
      .toArray();
    return users.map((u) => u._id);
  }

  async expireTokens(uid: string, now: Date, deadline: Deadline): Promise<Committed<number>> {
    const { moved, committedAt } = await this.moves.move(uid, {}, isExpiredExpr(now, this.idleMs), ArchiveReason.EXPIRED, now, deadline, {
      nextExpiry: { idleMs: this.idleMs },
    });
    // An unknown user has nothing to expire, unless its archive backlog is what stopped the write.
    if (!moved) await this.existingUser(uid, deadline);
    const count = moved?.length ?? 0;
    return { result: count, committedAt: count > 0 ? committedAt : undefined };
  }

  async findActiveToken(uid: string, tokenHash: Buffer, deadline: Deadline) {
    const match = { hash: tokenHash };
    const user = await this.users.findOne(
      { _id: uid, tokens: { $elemMatch: match } },
      { projection: { ...USER_FIELDS, tokens: { $elemMatch: match } }, ...timeLimit(deadline) },
    );
    return user ? { user: toUser(user), token: toStoredAuthToken(uid, user.tokens[0]!) } : undefined;
  }

  async recordTokenUse(uid: string, tokenId: string, changes: TokenChanges, now: Date, usedAfter: Date, deadline: Deadline) {
    const fields = tokenFields(changes);
    const result = await this.users.updateOne(
      {
        _id: uid,
        tokens: {
          $elemMatch: {
            id: tokenId,
            ...(fields.deviceId !== undefined && { deviceId: '' }),
            $or: [
              { lastUsedTime: null },
              { lastUsedTime: { $lte: usedAfter } },
              ...Object.entries(fields).map(([field, value]) => ({ [field]: { $ne: value } })),
            ],
          },
        },
      },
      { $set: { ...tokenFieldUpdates(changes), 'tokens.$.lastUsedTime': now } },
      // Refused if the caller already left, but not aborted midway: this short write is best
      // effort and bounded, and aborting it would only close a pooled connection.
      { maxTimeMS: Math.min(timeLimit(deadline).maxTimeMS, LAST_USE_WRITE_BUDGET_MS) },
    );
    return result.modifiedCount === 1;
  }

  listArchivedTokens(uid: string, after: PageCursor | undefined, limit: number, whose: ArchivedUsers, deadline: Deadline) {
    return listArchivedTokens(this.users, this.archive, { uid, after, limit, whose }, deadline);
  }

  /** Which of the two not-found errors applies, once a lookup or write has matched nothing. */
  private async notFound(uid: string, deadline: Deadline) {
    return (await this.existingUser(uid, deadline)) ? authTokenNotFound() : uidNotFound(uid);
  }

  /** The error of a write of the whole user that matched nothing: no such user (or its backlog, thrown). */
  private async noSuchUser(uid: string, deadline: Deadline) {
    await this.existingUser(uid, deadline);
    return uidNotFound(uid);
  }

  /**
   * The user (with `fields`), once a write has matched nothing; throws UNAVAILABLE when what
   * stopped it is a full pending list (token-writes.ts MAX_PENDING): the archive copies are failing.
   */
  private async existingUser<F extends object>(uid: string, deadline: Deadline, fields?: F) {
    const user = await this.users.findOne(
      { _id: uid, ...EXISTING_USER },
      { projection: { ...fields, backlog: { $size: { $ifNull: ['$pending', []] } } }, ...timeLimit(deadline) },
    );
    if (user && (user as { backlog?: number }).backlog! >= MAX_PENDING) {
      throw serviceUnavailable(new Error(`${MAX_PENDING} tokens of ${uid} wait for their archive copy`));
    }
    return user;
  }
}

function tokenFilter(ref: TokenRef): { hash: Buffer } | { id: string } {
  return 'tokenHash' in ref ? { hash: ref.tokenHash } : { id: ref.tokenId };
}

/** The token document's fields that `changes` sets, as stored. */
function tokenFields(changes: TokenChanges): Partial<Pick<TokenDoc, 'platform' | 'deviceId' | 'userAgent' | 'appInfo'>> {
  return {
    ...(changes.platform !== undefined && { platform: changes.platform }),
    ...(changes.deviceId !== undefined && { deviceId: changes.deviceId }),
    ...(changes.userAgent !== undefined && { userAgent: changes.userAgent }),
    ...('appInfo' in changes && { appInfo: toJsonText(changes.appInfo) }),
  };
}

/** tokenFields, as a $set of the token matched by the filter's positional `$`. */
function tokenFieldUpdates(changes: TokenChanges): Record<string, unknown> {
  return Object.fromEntries(Object.entries(tokenFields(changes)).map(([field, value]) => [`tokens.$.${field}`, value]));
}
