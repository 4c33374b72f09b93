// Use cases of AuthTokenService: the rules, independent of gRPC and MongoDB.
import { DomainError, ErrorReason, authTokenNotFound, uidNotFound } from './errors';
import type { ArchivedAuthToken, AuthToken, DeviceInfo, JsonObject, PageCursor, StoredAuthToken } from './model';
import { encodePageToken } from './page-token';
import { LAST_USE_WRITE_INTERVAL_MS, newestFirst } from './rules';
import { issueToken, sameHash } from './token-format';
import type { BucketLimit } from './token-bucket';
import { IGNORE_ACTIVITY, type TokenActivity } from './token-activity';
import type { TokenChanges, TokenStore } from './token-store';
import { type RevocationResult, revokeLeakedTokens } from './leaked-tokens';
import { RequestValidator } from './validation';
import { expiryOf, isExpired, type RequestedTtl } from './expiry';
import type { Deadline } from './deadline';

export interface TokenRules {
  maxTokensPerUser: number;
  /** MAX_TOKEN_LIFETIME_SECONDS in ms; undefined: tokens without a ttl never expire. */
  maxLifetimeMs?: number;
  /** IDLE_TIMEOUT_SECONDS in ms: a token not validated for this long stops validating; undefined: off. */
  idleMs?: number;
  /** Limits CreateAuthToken per uid, so one runaway client cannot churn a user's tokens (the store keeps the bucket). */
  createLimitPerUid?: BucketLimit;
}

export type Clock = () => Date;

export interface Page<T> {
  items: T[];
  nextPageToken: string;
}

export const UPDATABLE_TOKEN_FIELDS = ['platform', 'user_agent', 'app_info'] as const;
type UpdatableField = (typeof UPDATABLE_TOKEN_FIELDS)[number];
/** update_mask paths (proto field names) to the token fields they name. */
const FIELD_OF_PATH = { platform: 'platform', user_agent: 'userAgent', app_info: 'appInfo' } as const;

export const NO_DEVICE: DeviceInfo = { platform: '', deviceId: '', userAgent: '', appInfo: undefined };

/** A new token for `uid`: the secret for the caller and the record to store (hash only). */
export function newToken(uid: string, device: DeviceInfo, now: Date, expireTime?: Date): { secret: string; stored: StoredAuthToken } {
  const { token, tokenId, tokenHash } = issueToken(uid);
  return {
    secret: token,
    stored: { tokenId, tokenHash, uid, createTime: now, updateTime: now, lastUsedTime: undefined, expireTime, ...device },
  };
}

const publicViews = new WeakMap<StoredAuthToken, AuthToken>();

/**
 * The token without its hash, as it may leave the service. Records are never changed in place, so
 * one record always has the same view: a cached record is not copied again on every validation.
 */
export function publicView(stored: StoredAuthToken): AuthToken {
  let view = publicViews.get(stored);
  if (!view) {
    const { tokenHash: _hash, ...token } = stored;
    publicViews.set(stored, (view = token));
  }
  return view;
}

/**
 * Every use case takes the deadline of the call it serves (deadline.ts), for storage: see TokenStore.
 */
export class AuthTokens {
  constructor(
    private readonly store: TokenStore,
    private readonly rules: TokenRules,
    private readonly events: TokenActivity = IGNORE_ACTIVITY,
    private readonly clock: Clock = () => new Date(),
  ) {}

  async create(input: DeviceInfo & { uid: string; force: boolean; ttl?: RequestedTtl; expireTime?: Date }, deadline: Deadline) {
    const v = new RequestValidator();
    const uid = v.uid('uid', input.uid);
    const device = validDevice(v, input);
    const now = this.clock();
    const expireTime = expiryOf(v, input, now, this.rules.maxLifetimeMs);
    v.check();
    const { secret, stored } = newToken(uid, device, now, expireTime);
    const replaceDeviceId = !input.force && device.deviceId !== '' ? device.deviceId : undefined;
    const { createTime, evictedTokenIds, replacedTokenIds } = await this.store.issueToken(
      stored,
      { replaceDeviceId, maxTokensPerUser: this.rules.maxTokensPerUser, createLimit: this.rules.createLimitPerUid },
      now,
      deadline,
    );
    this.events.issued(1);
    this.events.archived('EVICTED', evictedTokenIds.length);
    this.events.archived('REPLACED', replacedTokenIds.length);
    const authToken = { ...publicView(stored), createTime, updateTime: createTime };
    return { authToken, secret, evictedTokenIds, replacedTokenIds };
  }

  async list(input: { uid: string; pageSize: number; pageToken: string }, deadline: Deadline): Promise<Page<AuthToken> & { totalSize: number }> {
    const v = new RequestValidator();
    const uid = v.uid('uid', input.uid);
    const pageSize = v.pageSize('page_size', input.pageSize);
    const after = v.pageToken('page_token', 'tokens', uid, input.pageToken);
    v.check();
    const all = (await this.store.listTokens(uid, deadline)).sort((a, b) => newestFirst(position(a), position(b)));
    const remaining = after ? all.filter((t) => newestFirst(after, position(t)) < 0) : all;
    const items = remaining.slice(0, pageSize);
    const last = items.at(-1);
    const nextPageToken =
      last && remaining.length > pageSize ? encodePageToken('tokens', uid, position(last)) : '';
    return { items, nextPageToken, totalSize: all.length };
  }

  async get(input: { uid: string; authToken: string }, deadline: Deadline): Promise<AuthToken> {
    const v = new RequestValidator();
    const uid = v.uid('uid', input.uid);
    const token = v.tokenRef('auth_token', input.authToken);
    v.check();
    return this.store.getToken(uid, token!.ref, deadline);
  }

  async update(input: {
    uid: string;
    authToken: string;
    platform: string;
    userAgent: string;
    appInfo: JsonObject | undefined;
    updateMask: string[] | undefined;
  }, deadline: Deadline): Promise<AuthToken> {
    const v = new RequestValidator();
    const uid = v.uid('uid', input.uid);
    const token = v.tokenRef('auth_token', input.authToken);
    const values: TokenChanges = {
      platform: v.shortText('platform', input.platform),
      userAgent: v.shortText('user_agent', input.userAgent),
      appInfo: v.jsonObject('app_info', input.appInfo),
    };
    // With a mask, exactly the named fields (an empty value clears one); without, every given field.
    const mask = input.updateMask ?? [];
    const given = (path: UpdatableField) => values[FIELD_OF_PATH[path]] !== undefined && values[FIELD_OF_PATH[path]] !== '';
    const paths = mask.length > 0 ? v.oneOf('update_mask', mask, UPDATABLE_TOKEN_FIELDS) : UPDATABLE_TOKEN_FIELDS.filter(given);
    v.check();
    const changes: TokenChanges = Object.fromEntries(paths.map((path) => [FIELD_OF_PATH[path], values[FIELD_OF_PATH[path]]]));
    if (paths.length === 0) return this.store.getToken(uid, token!.ref, deadline);
    return this.store.updateToken(uid, token!.ref, changes, this.clock(), deadline);
  }

  async delete(input: { uid: string; authToken: string }, deadline: Deadline): Promise<ArchivedAuthToken> {
    const v = new RequestValidator();
    const uid = v.uid('uid', input.uid);
    const token = v.tokenRef('auth_token', input.authToken);
    v.check();
    const archived = await this.store.deleteToken(uid, token!.ref, this.clock(), deadline);
    this.events.archived('DELETED', 1);
    return archived;
  }

  /** Without `exceptAuthToken` or `deviceId` (or with them empty), every active token. */
  async flush(input: { uid: string; exceptAuthToken?: string; deviceId?: string }, deadline: Deadline): Promise<number> {
    const v = new RequestValidator();
    const uid = v.uid('uid', input.uid);
    const except = input.exceptAuthToken ? v.tokenRef('except_auth_token', input.exceptAuthToken) : undefined;
    const deviceId = v.shortText('device_id', input.deviceId ?? '');
    v.check();
    const scope = { ...(except && { except: except.ref }), ...(deviceId !== '' && { deviceId }) };
    const count = await this.store.flushTokens(uid, scope, this.clock(), deadline);
    this.events.archived('FLUSHED', count);
    return count;
  }

  /** RevokeAuthTokens (leaked-tokens.ts). */
  revokeLeaked(input: { authTokens: readonly string[] }, deadline: Deadline): Promise<RevocationResult[]> {
    return revokeLeakedTokens(this.store, input.authTokens, this.clock(), deadline, this.events);
  }

  /** The login check on the hot path: one read, and a write at most once a minute per token. */
  async validate(input: DeviceInfo & { authToken: string }, deadline: Deadline) {
    try {
      const result = await this.checkToken(input, deadline);
      this.events.validated('valid');
      return result;
    } catch (error) {
      if (error instanceof DomainError && error.reason === ErrorReason.AUTH_TOKEN_NOT_FOUND) {
        this.events.validated('not_found');
      } else if (error instanceof DomainError && error.reason === ErrorReason.BAD_REQUEST) {
        this.events.validated('invalid');
      }
      throw error;
    }
  }

  private async checkToken(input: DeviceInfo & { authToken: string }, deadline: Deadline) {
    const v = new RequestValidator();
    const secret = v.secretToken('auth_token', input.authToken);
    const device = validDevice(v, input);
    v.check();
    const { uid, tokenHash } = secret!;
    const found = await this.store.findActiveToken(uid, tokenHash, deadline);
    const now = this.clock();
    // Expired (or idle too long): refused from that instant on, whether or not the sweep has archived it yet.
    if (!found || !sameHash(found.token.tokenHash, tokenHash) || isExpired(found.token, now, this.rules.idleMs)) throw authTokenNotFound();

    let authToken = publicView(found.token);
    const lastUsed = authToken.lastUsedTime?.getTime() ?? -Infinity;
    const changes = deviceChanges(authToken, device);
    // Device information that differs is written at once; otherwise last use, once a minute.
    if (Object.keys(changes).length > 0 || now.getTime() - lastUsed >= LAST_USE_WRITE_INTERVAL_MS) {
      const usedAfter = new Date(now.getTime() - LAST_USE_WRITE_INTERVAL_MS);
      // Best effort: the token is valid whether or not the database could record its use now.
      const recorded = await this.store
        .recordTokenUse(uid, authToken.tokenId, changes, now, usedAfter, deadline)
        .catch((error: unknown) => {
          if (error instanceof DomainError) return false;
          throw error;
        });
      if (recorded) authToken = { ...authToken, ...changes, lastUsedTime: now };
    }
    return { uid, authToken, user: found.user };
  }

  async listArchived(
    input: { uid: string; pageSize: number; pageToken: string; includePreviousUsers?: boolean },
    deadline: Deadline,
  ): Promise<Page<ArchivedAuthToken>> {
    const v = new RequestValidator();
    const uid = v.uid('uid', input.uid);
    const pageSize = v.pageSize('page_size', input.pageSize);
    const after = v.pageToken('page_token', 'archive', uid, input.pageToken);
    v.check();
    const found = await this.store.listArchivedTokens(uid, after, pageSize + 1, input.includePreviousUsers ? 'all' : 'current', deadline);
    // The archive outlives DeleteUser, so an empty first page is the only case that asks whether
    // the uid was ever known.
    if (found.length === 0 && !after && !(await this.store.getUser(uid, deadline))) {
      throw uidNotFound(uid);
    }
    const items = found.slice(0, pageSize);
    const last = items.at(-1);
    const nextPageToken =
      last && found.length > pageSize
        ? encodePageToken('archive', uid, { time: last.archiveTime, id: last.authToken.tokenId })
        : '';
    return { items, nextPageToken };
  }
}

function position(token: AuthToken): PageCursor {
  return { time: token.createTime, id: token.tokenId };
}

function validDevice(v: RequestValidator, input: DeviceInfo): DeviceInfo {
  return {
    platform: v.shortText('platform', input.platform),
    deviceId: v.shortText('device_id', input.deviceId),
    userAgent: v.shortText('user_agent', input.userAgent),
    appInfo: v.jsonObject('app_info', input.appInfo),
  };
}

/**
 * What a validation records: the device fields it was given that differ from the token's. A
 * token's device_id is bound at issue or first use and never rebound, because device_id decides
 * which token a re-login replaces.
 */
function deviceChanges(token: AuthToken, given: DeviceInfo): TokenChanges {
  return {
    ...(given.platform !== '' && given.platform !== token.platform && { platform: given.platform }),
    ...(given.userAgent !== '' && given.userAgent !== token.userAgent && { userAgent: given.userAgent }),
    ...(given.appInfo !== undefined && JSON.stringify(given.appInfo) !== JSON.stringify(token.appInfo) && { appInfo: given.appInfo }),
    ...(given.deviceId !== '' && token.deviceId === '' && { deviceId: given.deviceId }),
  };
}
