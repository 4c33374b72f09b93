// The storage port: what the use cases need from a database. src/storage implements it, and
// test/support/in-memory-token-store.ts does too (one contract suite runs against both).
// Methods that change a user's tokens or name a token throw uidNotFound when the user does not
// exist and authTokenNotFound when it has no such active token; lookups (getUser,
// findActiveToken, recordTokenUse, listArchivedTokens) answer undefined, false or [] instead.
import type { ArchivedAuthToken, AuthToken, DeviceInfo, PageCursor, StoredAuthToken, TokenRef, User } from './model';
import type { Deadline } from './deadline';
import type { BucketLimit } from './token-bucket';

export interface IssueOptions {
  /** Archive the user's active tokens for this device as REPLACED, in the same write. */
  replaceDeviceId: string | undefined;
  /** Keep at most this many active tokens; older ones are archived as EVICTED. */
  maxTokensPerUser: number;
  /**
   * The per-uid create limit, kept with the user (so it holds across replicas): without a token
   * in the user's bucket, nothing is issued and tooManyRequests says when to retry.
   */
  createLimit?: BucketLimit;
}

export interface IssueResult {
  /** May be later than requested: a new token is always strictly newer than the user's others. */
  createTime: Date;
  evictedTokenIds: string[];
  replacedTokenIds: string[];
}

export type TokenChanges = Partial<DeviceInfo>;

/**
 * Whose archived tokens a listing shows: those of the uid's current user (a uid deleted and
 * created again is a new user), or of every user the uid has had. Without a current user (after
 * DeleteUser), both show every earlier user's.
 */
export type ArchivedUsers = 'current' | 'all';

/** Which of a user's active tokens a flush revokes: all of them unless narrowed. */
export interface FlushScope {
  /** Keep this token; it must be active (authTokenNotFound otherwise, and nothing is revoked). */
  readonly except?: TokenRef;
  /** Only the tokens of this device. */
  readonly deviceId?: string;
}

/**
 * Every method takes the deadline of the call it serves: storage stops working for it then
 * (MongoDB's maxTimeMS) and fails with deadlineExceeded; and once the caller has given up
 * (`deadline.givenUp`), it starts no further operation and commits nothing, failing with the
 * reason given.
 */
export interface TokenStore {
  /** Throws uidAlreadyExists. Stores the user and its first token (if any) in one write. */
  createUser(user: User, firstToken: StoredAuthToken | undefined, deadline: Deadline): Promise<void>;
  getUser(uid: string, deadline: Deadline): Promise<User | undefined>;
  /** Deletes the user and archives its tokens as USER_DELETED, atomically. Returns how many. */
  deleteUser(uid: string, now: Date, deadline: Deadline): Promise<number>;

  issueToken(token: StoredAuthToken, options: IssueOptions, now: Date, deadline: Deadline): Promise<IssueResult>;
  /** Every active token of the user, in no particular order. */
  listTokens(uid: string, deadline: Deadline): Promise<AuthToken[]>;
  getToken(uid: string, ref: TokenRef, deadline: Deadline): Promise<AuthToken>;
  updateToken(uid: string, ref: TokenRef, changes: TokenChanges, now: Date, deadline: Deadline): Promise<AuthToken>;
  /** Archives the token as DELETED, atomically. */
  deleteToken(uid: string, ref: TokenRef, now: Date, deadline: Deadline): Promise<ArchivedAuthToken>;
  /** Archives the active tokens in `scope` as FLUSHED, atomically. Returns exactly how many. */
  flushTokens(uid: string, scope: FlushScope, now: Date, deadline: Deadline): Promise<number>;

  /**
   * Archives those of `tokenHashes` that are active tokens of `uid` as LEAKED, atomically, and
   * returns them. An unknown user revokes nothing: the caller does not know whose they are.
   */
  revokeTokens(uid: string, tokenHashes: readonly Buffer[], now: Date, deadline: Deadline): Promise<Buffer[]>;

  /**
   * Users that may have a token whose expire_time is at or before `now` (a few may turn out to
   * have none left), at most `limit`, earliest due first: what the expiry sweep visits.
   */
  usersWithExpiredTokens(now: Date, limit: number, deadline: Deadline): Promise<string[]>;
  /** Archives the user's tokens expired by `now` as EXPIRED, atomically; returns how many. An unknown user: 0. */
  expireTokens(uid: string, now: Date, deadline: Deadline): Promise<number>;

  /** The validation lookup: one indexed read of one user document. Undefined if not active. */
  findActiveToken(uid: string, tokenHash: Buffer, deadline: Deadline): Promise<{ user: User; token: StoredAuthToken } | undefined>;
  /**
   * Sets last use to `now` and writes `changes`, unless there is nothing new to write: the token
   * was used after `usedAfter` and already holds every value in `changes` (so concurrent
   * validations write once). A `changes.deviceId` binds only a token that has none: for a token
   * bound meanwhile, nothing is written. Returns whether it wrote.
   */
  recordTokenUse(uid: string, tokenId: string, changes: TokenChanges, now: Date, usedAfter: Date, deadline: Deadline): Promise<boolean>;

  /** Most recently archived first, strictly after `after`; at most `limit`, which must be at least 1 (MongoDB reads 0 as "no limit"). */
  listArchivedTokens(uid: string, after: PageCursor | undefined, limit: number, users: ArchivedUsers, deadline: Deadline): Promise<ArchivedAuthToken[]>;
}
