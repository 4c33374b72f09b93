// Domain records to generated proto messages. Secrets appear only where a caller passes one in.
import type { ArchivedAuthToken, AuthToken, User } from '../domain/model';
import {
  ArchiveReason as ArchiveReasonMessage,
  type ArchivedAuthToken as ArchivedAuthTokenMessage,
  type AuthToken as AuthTokenMessage,
  type User as UserMessage,
} from '../../gen/authtoken/v1/resources';

const ARCHIVE_REASONS: Record<ArchivedAuthToken['reason'], ArchiveReasonMessage> = {
  EVICTED: ArchiveReasonMessage.ARCHIVE_REASON_EVICTED,
  REPLACED: ArchiveReasonMessage.ARCHIVE_REASON_REPLACED,
  DELETED: ArchiveReasonMessage.ARCHIVE_REASON_DELETED,
  FLUSHED: ArchiveReasonMessage.ARCHIVE_REASON_FLUSHED,
  USER_DELETED: ArchiveReasonMessage.ARCHIVE_REASON_USER_DELETED,
  LEAKED: ArchiveReasonMessage.ARCHIVE_REASON_LEAKED,
  EXPIRED: ArchiveReasonMessage.ARCHIVE_REASON_EXPIRED,
};

/** `secret` only in the response that issued the token. */
export function authTokenMessage(token: AuthToken, secret = ''): AuthTokenMessage {
  return {
    tokenId: token.tokenId,
    authToken: secret,
    uid: token.uid,
    createTime: token.createTime,
    updateTime: token.updateTime,
    lastUsedTime: token.lastUsedTime,
    platform: token.platform,
    deviceId: token.deviceId,
    userAgent: token.userAgent,
    appInfo: token.appInfo,
    expireTime: token.expireTime,
  };
}

export function userMessage(user: User): UserMessage {
  return {
    uid: user.uid,
    name: user.name,
    metadata: user.metadata,
    createTime: user.createTime,
    updateTime: user.updateTime,
  };
}

export function archivedAuthTokenMessage(archived: ArchivedAuthToken): ArchivedAuthTokenMessage {
  return {
    authToken: authTokenMessage(archived.authToken),
    archiveTime: archived.archiveTime,
    reason: ARCHIVE_REASONS[archived.reason],
  };
}
