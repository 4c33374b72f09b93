// A TokenStore in a Map, for fast tests of the use cases. It behaves as MongoTokenStore does, as far
// as a caller can tell (test/integration/token-store-contract.test.ts runs the same cases on both):
// the same errors, the one token order of rules.ts, the cap, replacement, archive reasons and paging.
// Every method finishes in one synchronous step, so each is atomic as the real store's writes are.
import { publicView } from '../../src/domain/auth-tokens';
import type { Deadline } from '../../src/domain/deadline';
import { isExpired } from '../../src/domain/expiry';
import { authTokenNotFound, deadlineExceeded, tooManyRequests, uidAlreadyExists, uidNotFound } from '../../src/domain/errors';
import { type BucketLevel, refill, waitForToken } from '../../src/domain/token-bucket';
import {
  ArchiveReason,
  type ArchivedAuthToken,
  type AuthToken,
  type JsonObject,
  type PageCursor,
  type StoredAuthToken,
  type TokenRef,
  type User,
} from '../../src/domain/model';
import { newestFirst, oldestFirst } from '../../src/domain/rules';
import type { ArchivedUsers, FlushScope, IssueOptions, IssueResult, TokenChanges, TokenStore } from '../../src/domain/token-store';

interface UserEntry {
  user: User;
  /** A uid deleted and created again is a new user, with an archive of its own. */
  generation: number;
  /** Active tokens, oldest first, as MongoDB keeps them (so the cap drops from the front). */
  tokens: StoredAuthToken[];
  /** The per-uid create limit's bucket (domain/token-bucket.ts). */
  createBucket?: BucketLevel;
}

export class InMemoryTokenStore implements TokenStore {
  private readonly users = new Map<string, UserEntry>();
  /** Every archived token of every user: the archive outlives DeleteUser. */
  private readonly archive: { archived: ArchivedAuthToken; generation: number }[] = [];
  private generations = 0;

  /** @param idleMs the server's idle timeout (domain/expiry.ts), as MongoTokenStore takes it. */
  constructor(private readonly idleMs?: number) {}

  async createUser(user: User, firstToken: StoredAuthToken | undefined, deadline: Deadline): Promise<void> {
    checkDeadline(deadline);
    if (this.users.has(user.uid)) throw uidAlreadyExists(user.uid);
    this.users.set(user.uid, {
      user: { ...user, metadata: stored(user.metadata) },
      generation: ++this.generations,
      tokens: firstToken ? [storedToken(firstToken)] : [],
    });
  }

  async getUser(uid: string, deadline: Deadline): Promise<User | undefined> {
    checkDeadline(deadline);
    return this.users.get(uid)?.user;
  }

  async deleteUser(uid: string, now: Date, deadline: Deadline): Promise<number> {
    checkDeadline(deadline);
    const entry = this.entry(uid);
    this.users.delete(uid);
    this.archiveTokens(entry, entry.tokens, ArchiveReason.USER_DELETED, now);
    return entry.tokens.length;
  }

  async issueToken(token: StoredAuthToken, options: IssueOptions, now: Date, deadline: Deadline): Promise<IssueResult> {
    checkDeadline(deadline);
    const entry = this.entry(token.uid);
    const max = options.maxTokensPerUser;
    if (options.createLimit) {
      // The user's own bucket, as MongoTokenStore keeps it in the user's document.
      const tokens = refill(entry.createBucket, now.getTime(), options.createLimit);
      if (tokens < 1) throw tooManyRequests(Math.max(1, waitForToken(tokens, options.createLimit)), 'uid');
      entry.createBucket = { tokens: tokens - 1, at: now.getTime() };
    }
    // As MongoTokenStore's one update (storage/token-writes.ts issuing): replaced tokens leave
    // first and do not count against the cap; the oldest of the rest are evicted to make room; the
    // new token is stamped strictly newest (1 ms after the newest kept token when its own create
    // time says otherwise), so it is never the one evicted whatever the clock says.
    const replaced = entry.tokens.filter((t) => t.deviceId === options.replaceDeviceId);
    const kept = entry.tokens.filter((t) => t.deviceId !== options.replaceDeviceId).sort(tokenOrder);
    const evicted = kept.slice(0, Math.max(0, kept.length + 1 - max));
    const newest = kept.at(-1)?.createTime.getTime() ?? -Infinity;
    const createTime = new Date(Math.max(token.createTime.getTime(), newest + 1));
    entry.tokens = [...kept.slice(evicted.length), storedToken({ ...token, createTime, updateTime: createTime })].sort(tokenOrder);
    this.archiveTokens(entry, replaced, ArchiveReason.REPLACED, now);
    this.archiveTokens(entry, evicted, ArchiveReason.EVICTED, now);
    return { createTime, evictedTokenIds: evicted.map((t) => t.tokenId), replacedTokenIds: replaced.map((t) => t.tokenId) };
  }

  async listTokens(uid: string, deadline: Deadline): Promise<AuthToken[]> {
    checkDeadline(deadline);
    return this.entry(uid).tokens.map(publicView);
  }

  async getToken(uid: string, ref: TokenRef, deadline: Deadline): Promise<AuthToken> {
    checkDeadline(deadline);
    return publicView(this.activeToken(uid, ref).token);
  }

  async updateToken(uid: string, ref: TokenRef, changes: TokenChanges, now: Date, deadline: Deadline): Promise<AuthToken> {
    checkDeadline(deadline);
    const { entry, token } = this.activeToken(uid, ref);
    // A new record: the old one may be held (and memoised by identity) by whoever read it.
    const updated = { ...withChanges(token, changes), updateTime: now };
    entry.tokens = entry.tokens.map((t) => (t === token ? updated : t));
    return publicView(updated);
  }

  async deleteToken(uid: string, ref: TokenRef, now: Date, deadline: Deadline): Promise<ArchivedAuthToken> {
    checkDeadline(deadline);
    const { entry, token } = this.activeToken(uid, ref);
    entry.tokens = entry.tokens.filter((t) => t !== token);
    return this.archiveTokens(entry, [token], ArchiveReason.DELETED, now)[0]!;
  }

  async flushTokens(uid: string, { except, deviceId }: FlushScope, now: Date, deadline: Deadline): Promise<number> {
    checkDeadline(deadline);
    const entry = this.entry(uid);
    const kept = except && this.activeToken(uid, except).token;
    const flushed = entry.tokens.filter((t) => t !== kept && (deviceId === undefined || t.deviceId === deviceId));
    entry.tokens = entry.tokens.filter((t) => !flushed.includes(t));
    this.archiveTokens(entry, flushed, ArchiveReason.FLUSHED, now);
    return flushed.length;
  }

  async revokeTokens(uid: string, tokenHashes: readonly Buffer[], now: Date, deadline: Deadline): Promise<Buffer[]> {
    checkDeadline(deadline);
    const entry = this.users.get(uid);
    if (!entry) return [];
    const revoked = entry.tokens.filter((t) => tokenHashes.some((h) => h.equals(t.tokenHash)));
    entry.tokens = entry.tokens.filter((t) => !revoked.includes(t));
    this.archiveTokens(entry, revoked, ArchiveReason.LEAKED, now);
    return revoked.map((t) => t.tokenHash);
  }

  async usersWithExpiredTokens(now: Date, limit: number, deadline: Deadline): Promise<string[]> {
    checkDeadline(deadline);
    return [...this.users.values()].filter((e) => e.tokens.some((t) => isExpired(t, now, this.idleMs))).slice(0, limit).map((e) => e.user.uid);
  }

  async expireTokens(uid: string, now: Date, deadline: Deadline): Promise<number> {
    checkDeadline(deadline);
    const entry = this.users.get(uid);
    if (!entry) return 0;
    const expired = entry.tokens.filter((t) => isExpired(t, now, this.idleMs));
    entry.tokens = entry.tokens.filter((t) => !expired.includes(t));
    this.archiveTokens(entry, expired, ArchiveReason.EXPIRED, now);
    return expired.length;
  }

  async findActiveToken(uid: string, tokenHash: Buffer, deadline: Deadline) {
    checkDeadline(deadline);
    // An unknown user is not an error here: validation answers "not found" either way.
    const entry = this.users.get(uid);
    const token = entry?.tokens.find((t) => t.tokenHash.equals(tokenHash));
    return entry && token ? { user: entry.user, token } : undefined;
  }

  async recordTokenUse(uid: string, tokenId: string, changes: TokenChanges, now: Date, usedAfter: Date, deadline: Deadline) {
    checkDeadline(deadline);
    const entry = this.users.get(uid);
    const token = entry?.tokens.find((t) => t.tokenId === tokenId);
    if (!entry || !token || (changes.deviceId !== undefined && token.deviceId !== '')) return false;
    // Nothing new: a use recorded after `usedAfter` (another validation wrote) and the same values.
    const changed = withChanges(token, changes);
    const due = token.lastUsedTime === undefined || token.lastUsedTime.getTime() <= usedAfter.getTime();
    if (!due && sameDevice(token, changed)) return false;
    // Last use is not an update by the caller: updateTime stays.
    const used = { ...changed, lastUsedTime: now };
    entry.tokens = entry.tokens.map((t) => (t === token ? used : t));
    return true;
  }

  async listArchivedTokens(uid: string, after: PageCursor | undefined, limit: number, users: ArchivedUsers, deadline: Deadline) {
    checkDeadline(deadline);
    // MongoDB reads a limit of 0 as "no limit" and a negative one as its absolute value; the
    // contract says "at most limit". No use case asks for fewer than one, so one that does is a bug.
    if (!Number.isInteger(limit) || limit < 1) throw new Error(`listArchivedTokens: limit must be a positive integer, not ${limit}`);
    const current = users === 'current' ? this.users.get(uid)?.generation : undefined;
    return this.archive
      .filter(({ archived, generation }) => archived.authToken.uid === uid && (current === undefined || generation === current))
      .map(({ archived }) => archived)
      .filter((a) => after === undefined || newestFirst(after, archivePosition(a)) < 0)
      .sort((a, b) => newestFirst(archivePosition(a), archivePosition(b)))
      .slice(0, limit);
  }

  private entry(uid: string): UserEntry {
    const entry = this.users.get(uid);
    if (!entry) throw uidNotFound(uid);
    return entry;
  }

  /** The user's active token named by `ref`; which not-found error applies, as MongoTokenStore says it. */
  private activeToken(uid: string, ref: TokenRef): { entry: UserEntry; token: StoredAuthToken } {
    const entry = this.entry(uid);
    const token = entry.tokens.find((t) => ('tokenHash' in ref ? t.tokenHash.equals(ref.tokenHash) : t.tokenId === ref.tokenId));
    if (!token) throw authTokenNotFound();
    return { entry, token };
  }

  private archiveTokens(entry: UserEntry, tokens: readonly StoredAuthToken[], reason: ArchiveReason, now: Date): ArchivedAuthToken[] {
    const archived = tokens.map((t) => ({ authToken: publicView(t), archiveTime: now, reason }));
    this.archive.push(...archived.map((a) => ({ archived: a, generation: entry.generation })));
    return archived;
  }
}

/**
 * As MongoTokenStore's timeLimit: no work starts for a caller that gave up (`givenUp` says the
 * error to answer) or once less than a millisecond of the call is left. Work here never waits,
 * so this check before it is the only one there is.
 */
function checkDeadline(deadline: Deadline): void {
  const reason = deadline.givenUp?.();
  if (reason) throw reason;
  if (Math.floor(deadline.at - Date.now()) <= 0) throw deadlineExceeded();
}

/** The one token order (rules.ts) applied to tokens: create time, then id. */
function tokenOrder(a: AuthToken, b: AuthToken): number {
  return oldestFirst({ time: a.createTime, id: a.tokenId }, { time: b.createTime, id: b.tokenId });
}

/** The archive's keyset position, as MongoTokenStore sorts it: archive time, then token id. */
function archivePosition(archived: ArchivedAuthToken): PageCursor {
  return { time: archived.archiveTime, id: archived.authToken.tokenId };
}

/** Only the fields given; an appInfo given as undefined clears it (as MongoTokenStore's `'appInfo' in changes`). */
function sameDevice(a: StoredAuthToken, b: StoredAuthToken): boolean {
  return (
    a.platform === b.platform &&
    a.deviceId === b.deviceId &&
    a.userAgent === b.userAgent &&
    JSON.stringify(a.appInfo) === JSON.stringify(b.appInfo)
  );
}

function withChanges(token: StoredAuthToken, changes: TokenChanges): StoredAuthToken {
  return {
    ...token,
    ...(changes.platform !== undefined && { platform: changes.platform }),
    ...(changes.deviceId !== undefined && { deviceId: changes.deviceId }),
    ...(changes.userAgent !== undefined && { userAgent: changes.userAgent }),
    ...('appInfo' in changes && { appInfo: stored(changes.appInfo) }),
  };
}

function storedToken(token: StoredAuthToken): StoredAuthToken {
  return { ...token, appInfo: stored(token.appInfo) };
}

/**
 * JSON objects as MongoTokenStore keeps them, as JSON text: a copy, so a caller that changes its
 * object afterwards does not change the store, and what JSON cannot hold (undefined values) is gone.
 */
function stored(value: JsonObject | undefined): JsonObject | undefined {
  return value === undefined ? undefined : (JSON.parse(JSON.stringify(value)) as JsonObject);
}
