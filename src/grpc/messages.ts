// Domain records to generated proto messages. Secrets appear only where a caller passes one in.
import type { AuthTokenEvent as DomainAuthTokenEvent } from '../domain/auth-token-events';
import type { ArchivedAuthToken, AuthToken, User } from '../domain/model';
import { type AuthTokenEvent as AuthTokenEventMessage, AuthTokenEventType } from '../../gen/authtoken/v1/auth_token_service';
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

export function authTokenEventMessage(event: DomainAuthTokenEvent): AuthTokenEventMessage {
  if (event.type === 'BOOKMARK') {
    return { ...EMPTY_EVENT, type: AuthTokenEventType.AUTH_TOKEN_EVENT_TYPE_BOOKMARK, resumeToken: event.position };
  }
  return {
    type: event.type === 'ISSUED' ? AuthTokenEventType.AUTH_TOKEN_EVENT_TYPE_ISSUED : AuthTokenEventType.AUTH_TOKEN_EVENT_TYPE_REVOKED,
    resumeToken: event.position,
    uid: event.uid,
    tokenId: event.tokenId,
    deviceId: event.deviceId,
    time: event.time,
    reason: event.type === 'REVOKED' ? ARCHIVE_REASONS[event.reason] : ArchiveReasonMessage.ARCHIVE_REASON_UNSPECIFIED,
  };
}

const EMPTY_EVENT: AuthTokenEventMessage = {
  type: AuthTokenEventType.AUTH_TOKEN_EVENT_TYPE_UNSPECIFIED,
  resumeToken: '',
  uid: '',
  tokenId: '',
  deviceId: '',
  time: undefined,
  reason: ArchiveReasonMessage.ARCHIVE_REASON_UNSPECIFIED,
};
