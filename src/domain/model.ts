// What the service knows about users and tokens, independent of storage and transport.

export type JsonObject = { [key: string]: unknown };

export interface User {
  uid: string;
  name: string;
  metadata: JsonObject | undefined;
  createTime: Date;
  updateTime: Date;
}

/** Device information a token was issued for or last used from. */
export interface DeviceInfo {
  platform: string;
  deviceId: string;
  userAgent: string;
  appInfo: JsonObject | undefined;
}

export interface AuthToken extends DeviceInfo {
  tokenId: string;
  uid: string;
  createTime: Date;
  updateTime: Date;
  lastUsedTime: Date | undefined;
}

/** An active token as stored: never the secret, only its SHA-256. */
export interface StoredAuthToken extends AuthToken {
  tokenHash: Buffer;
}

export const ArchiveReason = {
  EVICTED: 'EVICTED',
  REPLACED: 'REPLACED',
  DELETED: 'DELETED',
  FLUSHED: 'FLUSHED',
  USER_DELETED: 'USER_DELETED',
} as const;
export type ArchiveReason = (typeof ArchiveReason)[keyof typeof ArchiveReason];

export interface ArchivedAuthToken {
  authToken: AuthToken;
  archiveTime: Date;
  reason: ArchiveReason;
}

/** How a request names a token: the secret (looked up by its hash) or the public id. */
export type TokenRef = { tokenHash: Buffer } | { tokenId: string };

/** Keyset position for newest-first listings: the last item of the previous page. */
export interface PageCursor {
  time: Date;
  id: string;
}
