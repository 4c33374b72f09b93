// The TokenStore on MongoDB: one document per user holding its active tokens in a capped array,
// and an archive collection for every token that stops being active.
//
// Every change that archives tokens runs in one transaction with the change to the user document,
// so a crash between the two can lose nothing: either both happen or neither does. Those
// transactions return when they committed (committed-writes.ts), for the cache in front.
import type { ClientSession, Collection, Db, Filter, MongoClient } from 'mongodb';
import { authTokenNotFound, uidAlreadyExists, uidNotFound } from '../domain/errors';
import { ArchiveReason, type StoredAuthToken, type TokenRef, type User } from '../domain/model';
import type { ArchivedUsers, FlushScope, IssueOptions, IssueResult, TokenChanges } from '../domain/token-store';
import type { Committed, CommittingTokenStore } from './committed-writes';
import {
  ARCHIVED_TOKENS,
  type ArchivedTokenDoc,
  PUBLIC_TOKEN_FIELDS,
  TOKEN_ORDER,
  type TokenDoc,
  type TokenOwner,
  issuedToken,
  nextExpiryOf,
  USER_FIELDS,
  USERS,
  type UserDoc,
  storedOldestFirst,
  toArchivedAuthToken,
  toArchivedDoc,
  toAuthToken,
  toJsonText,
  toStoredAuthToken,
  toTokenDoc,
  toUser,
  toUserDoc,
} from './documents';
import { inTransaction, timeLimit } from './transactions';
import type { Deadline } from '../domain/deadline';
import { expiresAt, isExpired } from '../domain/expiry';

const DUPLICATE_KEY = 11000;
/** What a transaction that archives tokens reads of their user: the tokens, and whose they are. */
const ARCHIVING_FIELDS = { tokens: 1, generation: 1 } as const;

type Flushed = { owner: TokenOwner; flushed: TokenDoc[] };
/**
 * The last-use write rides on the login check, so it may not hold it up: e.g. a transaction left
 * open by a crashed replica locks the user's document until MongoDB expires it.
 */
const LAST_USE_WRITE_BUDGET_MS = 250;

export class MongoTokenStore implements CommittingTokenStore {
  private readonly users: Collection<UserDoc>;
  private readonly archive: Collection<ArchivedTokenDoc>;

  /** @param idleMs the server's idle timeout (expiry.ts); undefined: off. */
  constructor(
    private readonly client: MongoClient,
    db: Db,
    private readonly idleMs?: number,
  ) {
    this.users = db.collection<UserDoc>(USERS);
    this.archive = db.collection<ArchivedTokenDoc>(ARCHIVED_TOKENS);
  }

  async createUser(user: User, firstToken: StoredAuthToken | undefined, deadline: Deadline): Promise<void> {
    try {
      await this.users.insertOne(toUserDoc(user, firstToken ? [toTokenDoc(firstToken)] : [], this.idleMs), timeLimit(deadline));
    } catch (error) {
      if ((error as { code?: unknown }).code === DUPLICATE_KEY) throw uidAlreadyExists(user.uid);
      throw error;
    }
  }

  async getUser(uid: string, deadline: Deadline): Promise<User | undefined> {
    const doc = await this.users.findOne({ _id: uid }, { projection: USER_FIELDS, ...timeLimit(deadline) });
    return doc ? toUser(doc) : undefined;
  }

  deleteUser(uid: string, now: Date, deadline: Deadline): Promise<Committed<number>> {
    return inTransaction(this.client, deadline, async (session) => {
      const deleted = await this.users.findOneAndDelete(
        { _id: uid },
        { session, projection: ARCHIVING_FIELDS, ...timeLimit(deadline) },
      );
      if (!deleted) throw uidNotFound(uid);
      await this.archiveTokens(deleted, deleted.tokens, ArchiveReason.USER_DELETED, now, session, deadline);
      return deleted.tokens.length;
    });
  }

  async issueToken(token: StoredAuthToken, options: IssueOptions, now: Date, deadline: Deadline): Promise<Committed<IssueResult>> {
    const { uid } = token;
    const max = options.maxTokensPerUser;
    if (options.replaceDeviceId === undefined) {
      // Below the cap a push evicts nothing, so one atomic update is enough: no transaction.
      // It applies only while the new token is strictly the newest; otherwise (a clock behind
      // another replica's, or the same millisecond) the transaction below stamps it so.
      const belowCap = await this.users.updateOne(
        {
          _id: uid,
          [`tokens.${max - 1}`]: { $exists: false },
          tokens: { $not: { $elemMatch: { createTime: { $gte: token.createTime } } } },
        },
        issuing(toTokenDoc(token), max, this.idleMs),
        timeLimit(deadline),
      );
      if (belowCap.matchedCount === 1) {
        return { result: { createTime: token.createTime, evictedTokenIds: [], replacedTokenIds: [] }, committedAt: undefined };
      }
    }
    return inTransaction(this.client, deadline, async (session) => {
      // Reading inside the transaction makes the computed eviction exact: if another writer
      // changes the document before we commit, our write conflicts and the whole attempt reruns.
      const user = await this.users.findOne({ _id: uid }, { session, projection: ARCHIVING_FIELDS, ...timeLimit(deadline) });
      if (!user) throw uidNotFound(uid);
      const replaced = user.tokens.filter((t) => t.deviceId === options.replaceDeviceId);
      const kept = user.tokens.filter((t) => t.deviceId !== options.replaceDeviceId).sort(storedOldestFirst);
      const evicted = kept.slice(0, Math.max(0, kept.length + 1 - max));
      // Strictly newer than every active token, so the new token is never the one evicted, even
      // when clocks of several service replicas disagree.
      const newest = kept.at(-1)?.createTime.getTime() ?? -Infinity;
      const createTime = new Date(Math.max(now.getTime(), newest + 1));
      const doc = toTokenDoc({ ...token, createTime, updateTime: createTime });

      if (replaced.length > 0) {
        await this.users.updateOne(
          { _id: uid },
          { $pull: { tokens: { id: { $in: replaced.map((t) => t.id) } } } },
          { session, ...timeLimit(deadline) },
        );
      }
      await this.users.updateOne(
        { _id: uid },
        issuing(doc, max, this.idleMs),
        { session, ...timeLimit(deadline) },
      );
      await this.archiveTokens(user, replaced, ArchiveReason.REPLACED, now, session, deadline);
      await this.archiveTokens(user, evicted, ArchiveReason.EVICTED, now, session, deadline);
      return {
        createTime,
        evictedTokenIds: evicted.map((t) => t.id),
        replacedTokenIds: replaced.map((t) => t.id),
      };
    });
  }

  async listTokens(uid: string, deadline: Deadline) {
    const user = await this.users.findOne({ _id: uid }, { projection: { tokens: PUBLIC_TOKEN_FIELDS }, ...timeLimit(deadline) });
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

  deleteToken(uid: string, ref: TokenRef, now: Date, deadline: Deadline) {
    const match = tokenFilter(ref);
    return inTransaction(this.client, deadline, async (session) => {
      const before = await this.users.findOneAndUpdate(
        { _id: uid, tokens: { $elemMatch: match } },
        { $pull: { tokens: match } },
        { session, projection: { tokens: { $elemMatch: match }, generation: 1 }, returnDocument: 'before', ...timeLimit(deadline) },
      );
      if (!before) throw await this.notFound(uid, deadline, session);
      const [archived] = await this.archiveTokens(before, before.tokens, ArchiveReason.DELETED, now, session, deadline);
      return toArchivedAuthToken(archived!);
    });
  }

  flushTokens(uid: string, scope: FlushScope, now: Date, deadline: Deadline): Promise<Committed<number>> {
    return inTransaction(this.client, deadline, async (session) => {
      const { owner, flushed } =
        scope.except === undefined && scope.deviceId === undefined
          ? await this.flushAll(uid, session, deadline)
          : await this.flushSome(uid, scope, session, deadline);
      await this.archiveTokens(owner, flushed, ArchiveReason.FLUSHED, now, session, deadline);
      return flushed.length;
    }, (count) => count > 0);
  }

  /** Empties the user's tokens in one write; resolves with those it held. */
  private async flushAll(uid: string, session: ClientSession, deadline: Deadline): Promise<Flushed> {
    const before = await this.users.findOneAndUpdate(
      { _id: uid },
      { $set: { tokens: [] } },
      { session, projection: ARCHIVING_FIELDS, returnDocument: 'before', ...timeLimit(deadline) },
    );
    if (!before) throw uidNotFound(uid);
    return { owner: before, flushed: before.tokens };
  }

  /**
   * Pulls the tokens in `scope`, as read in this transaction: should another writer change the
   * document before the commit, the pull conflicts and the whole attempt reruns on a new read.
   */
  private async flushSome(uid: string, { except, deviceId }: FlushScope, session: ClientSession, deadline: Deadline): Promise<Flushed> {
    const user = await this.users.findOne({ _id: uid }, { session, projection: ARCHIVING_FIELDS, ...timeLimit(deadline) });
    if (!user) throw uidNotFound(uid);
    const kept = except && user.tokens.find(isToken(except));
    if (except && !kept) throw authTokenNotFound();
    const flushed = user.tokens.filter((t) => t !== kept && (deviceId === undefined || t.deviceId === deviceId));
    if (flushed.length > 0) {
      await this.users.updateOne(
        { _id: uid },
        { $pull: { tokens: { id: { $in: flushed.map((t) => t.id) } } } },
        { session, ...timeLimit(deadline) },
      );
    }
    return { owner: user, flushed };
  }

  revokeTokens(uid: string, tokenHashes: readonly Buffer[], now: Date, deadline: Deadline): Promise<Committed<Buffer[]>> {
    const leaked = { hash: { $in: [...tokenHashes] } };
    return inTransaction(this.client, deadline, async (session) => {
      const before = await this.users.findOneAndUpdate(
        { _id: uid, tokens: { $elemMatch: leaked } },
        { $pull: { tokens: leaked } },
        { session, projection: ARCHIVING_FIELDS, returnDocument: 'before', ...timeLimit(deadline) },
      );
      if (!before) return [];
      const revoked = before.tokens.filter((t) => tokenHashes.some((h) => h.equals(t.hash)));
      await this.archiveTokens(before, revoked, ArchiveReason.LEAKED, now, session, deadline);
      return revoked.map((t) => t.hash);
    }, (revoked) => revoked.length > 0);
  }

  async usersWithExpiredTokens(now: Date, limit: number, deadline: Deadline): Promise<string[]> {
    const users = await this.users.find({ nextExpiry: { $lte: now } }, { projection: { _id: 1 }, limit, ...timeLimit(deadline) }).toArray();
    return users.map((u) => u._id);
  }

  expireTokens(uid: string, now: Date, deadline: Deadline): Promise<Committed<number>> {
    return inTransaction(this.client, deadline, async (session) => {
      const user = await this.users.findOne({ _id: uid }, { session, projection: ARCHIVING_FIELDS, ...timeLimit(deadline) });
      if (!user) return 0;
      const expired = user.tokens.filter((t) => isExpired(t, now, this.idleMs));
      const kept = user.tokens.filter((t) => !expired.includes(t));
      // Later than before when a kept token was used since: the idle timeout counts from its last use.
      const next = nextExpiryOf(kept, this.idleMs).nextExpiry;
      await this.users.updateOne(
        { _id: uid },
        {
          ...(expired.length > 0 && { $pull: { tokens: { id: { $in: expired.map((t) => t.id) } } } }),
          ...(next ? { $set: { nextExpiry: next } } : { $unset: { nextExpiry: '' } }),
        },
        { session, ...timeLimit(deadline) },
      );
      await this.archiveTokens(user, expired, ArchiveReason.EXPIRED, now, session, deadline);
      return expired.length;
    }, (count) => count > 0);
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

  async listArchivedTokens(uid: string, after: { time: Date; id: string } | undefined, limit: number, users: ArchivedUsers, deadline: Deadline) {
    const current = users === 'current' ? await this.users.findOne({ _id: uid }, { projection: { generation: 1 }, ...timeLimit(deadline) }) : null;
    // `null` also matches archived tokens of users from before generations existed.
    const ofUser: Filter<ArchivedTokenDoc> = current ? { generation: current.generation ?? null } : {};
    const filter: Filter<ArchivedTokenDoc> = after
      ? { uid, ...ofUser, $or: [{ archiveTime: { $lt: after.time } }, { archiveTime: after.time, _id: { $lt: after.id } }] }
      : { uid, ...ofUser };
    const docs = await this.archive
      .find(filter, timeLimit(deadline))
      .sort({ archiveTime: -1, _id: -1 })
      .limit(limit)
      .toArray();
    return docs.map(toArchivedAuthToken);
  }

  private async archiveTokens(
    owner: TokenOwner,
    tokens: TokenDoc[],
    reason: ArchiveReason,
    now: Date,
    session: ClientSession,
    deadline: Deadline,
  ): Promise<ArchivedTokenDoc[]> {
    if (tokens.length === 0) return [];
    const docs = tokens.map((t) => toArchivedDoc(owner, t, reason, now));
    await this.archive.insertMany(docs, { session, ...timeLimit(deadline) });
    return docs;
  }

  /** Which of the two not-found errors applies, once the token lookup has missed. */
  private async notFound(uid: string, deadline: Deadline, session?: ClientSession) {
    const exists = await this.users.countDocuments({ _id: uid }, { session, limit: 1, ...timeLimit(deadline) });
    return exists ? authTokenNotFound() : uidNotFound(uid);
  }
}

function tokenFilter(ref: TokenRef): Partial<TokenDoc> {
  return 'tokenHash' in ref ? { hash: ref.tokenHash } : { id: ref.tokenId };
}

/**
 * The update that adds `doc`, keeping the newest `max` tokens. It names the token issued (the
 * ISSUED event) and, if it expires, makes the user's next expiry at least that early.
 */
function issuing(doc: TokenDoc, max: number, idleMs: number | undefined) {
  const expiry = expiresAt(doc, idleMs);
  return {
    $push: { tokens: { $each: [doc], $sort: TOKEN_ORDER, $slice: -max } },
    $set: { lastIssued: issuedToken(doc) },
    ...(expiry && { $min: { nextExpiry: expiry } }),
  };
}

/** tokenFilter, on a document already read. */
function isToken(ref: TokenRef): (t: TokenDoc) => boolean {
  return 'tokenHash' in ref ? (t) => t.hash.equals(ref.tokenHash) : (t) => t.id === ref.tokenId;
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
