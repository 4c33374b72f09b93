// What the service knows about users and tokens, independent of storage and transport.
//
// Records are readonly: a change makes a new record. The hot path relies on it: the public view of
// a stored token and a response's encoding are memoised by record identity (publicView,
// EncodedOnce), which a record changed in place would make stale.

export type JsonObject = { [key: string]: unknown };

export interface User {
  readonly uid: string;
  readonly name: string;
  readonly metadata: JsonObject | undefined;
  readonly createTime: Date;
  readonly updateTime: Date;
}

/** Device information a token was issued for or last used from. */
export interface DeviceInfo {
  readonly platform: string;
  readonly deviceId: string;
  readonly userAgent: string;
  readonly appInfo: JsonObject | undefined;
}

export interface AuthToken extends DeviceInfo {
  readonly tokenId: string;
  readonly uid: string;
  readonly createTime: Date;
  readonly updateTime: Date;
  readonly lastUsedTime: Date | undefined;
  /** When it stops validating (expiry.ts); undefined: never. */
  readonly expireTime: Date | undefined;
}

/** An active token as stored: never the secret, only its SHA-256. */
export interface StoredAuthToken extends AuthToken {
  readonly tokenHash: Buffer;
}

export const ArchiveReason = {
  EVICTED: 'EVICTED',
  REPLACED: 'REPLACED',
  DELETED: 'DELETED',
  FLUSHED: 'FLUSHED',
  USER_DELETED: 'USER_DELETED',
  LEAKED: 'LEAKED',
  EXPIRED: 'EXPIRED',
} as const;
export type ArchiveReason = (typeof ArchiveReason)[keyof typeof ArchiveReason];

export interface ArchivedAuthToken {
  readonly authToken: AuthToken;
  readonly archiveTime: Date;
  readonly reason: ArchiveReason;
}

/** How a request names a token: the secret (looked up by its hash) or the public id. */
export type TokenRef = { tokenHash: Buffer } | { tokenId: string };

/** Keyset position for newest-first listings: the last item of the previous page. */
export interface PageCursor {
  readonly time: Date;
  readonly id: string;
}
