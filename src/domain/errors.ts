// Domain errors carry CometChat's error codes as reasons; src/grpc/errors.ts maps them to statuses.

export const ErrorReason = {
  BAD_REQUEST: 'ERR_BAD_REQUEST',
  UID_NOT_FOUND: 'ERR_UID_NOT_FOUND',
  UID_ALREADY_EXISTS: 'ERR_UID_ALREADY_EXISTS',
  AUTH_TOKEN_NOT_FOUND: 'ERR_AUTH_TOKEN_NOT_FOUND',
  /** No API key, or one that is not configured. */
  API_KEY_NOT_FOUND: 'AUTH_ERR_APIKEY_NOT_FOUND',
  /** The API key's scope does not allow this method. */
  NO_ACCESS: 'AUTH_ERR_NO_ACCESS',
  TOO_MANY_REQUESTS: 'ERR_TOO_MANY_REQUESTS',
  /** A transport limit that holds the server up (connections, streams, unread responses). */
  LIMIT_EXCEEDED: 'ERR_LIMIT_EXCEEDED',
  /** The call's deadline passed before the database answered. */
  DEADLINE_EXCEEDED: 'ERR_DEADLINE_EXCEEDED',
  /** The client cancelled the call; its work was stopped (the client sees no answer). */
  CANCELLED: 'ERR_CANCELLED',
  /** The database cannot be reached; retrying later may succeed. */
  SERVICE_UNAVAILABLE: 'ERR_SERVICE_UNAVAILABLE',
  /** WatchAuthTokenEvents: the events after the given resume_token are no longer kept. */
  RESUME_TOKEN_EXPIRED: 'ERR_RESUME_TOKEN_EXPIRED',
  /** A bug or an unexpected failure: never expected in normal operation. */
  OPERATION_FAILED: 'ERR_OPERATION_FAILED',
} as const;
export type ErrorReason = (typeof ErrorReason)[keyof typeof ErrorReason];

export interface FieldViolation {
  /** The request field as named in the proto (snake_case), e.g. "device_id". */
  field: string;
  description: string;
}

export class DomainError extends Error {
  constructor(
    readonly reason: ErrorReason,
    message: string,
    readonly fieldViolations: readonly FieldViolation[] = [],
    readonly metadata: Readonly<Record<string, string>> = {},
    /** For TOO_MANY_REQUESTS: when a retry may succeed. */
    readonly retryDelayMs?: number,
  ) {
    super(message);
    this.name = 'DomainError';
  }
}

export function badRequest(violations: readonly FieldViolation[]): DomainError {
  const fields = violations.map((v) => v.field).join(', ');
  return new DomainError(ErrorReason.BAD_REQUEST, `Invalid request: ${fields}.`, violations);
}

export function uidNotFound(uid: string): DomainError {
  return new DomainError(
    ErrorReason.UID_NOT_FOUND,
    `The UID ${uid} does not exist, please make sure you have created a user with UID ${uid}.`,
    [],
    { uid },
  );
}

export function uidAlreadyExists(uid: string): DomainError {
  return new DomainError(
    ErrorReason.UID_ALREADY_EXISTS,
    `The uid ${uid} already exists. Please use another uid.`,
    [],
    { uid },
  );
}

export function authTokenNotFound(): DomainError {
  // Deliberately says nothing about which part did not match.
  return new DomainError(ErrorReason.AUTH_TOKEN_NOT_FOUND, 'Auth token does not exist.');
}

export function serviceUnavailable(cause: unknown): DomainError {
  const error = new DomainError(
    ErrorReason.SERVICE_UNAVAILABLE,
    'The token database is unavailable; retry later.',
  );
  error.cause = cause;
  return error;
}

export function deadlineExceeded(): DomainError {
  return new DomainError(ErrorReason.DEADLINE_EXCEEDED, 'The call deadline passed before the operation completed.');
}

export function callCancelled(): DomainError {
  return new DomainError(ErrorReason.CANCELLED, 'The call was cancelled by the client.');
}

export function apiKeyNotFound(): DomainError {
  return new DomainError(
    ErrorReason.API_KEY_NOT_FOUND,
    'A valid API key is required: send "authorization: Bearer <key>" metadata.',
  );
}

export function noAccess(keyName: string, method: string): DomainError {
  return new DomainError(
    ErrorReason.NO_ACCESS,
    `The key ${keyName} cannot be used to perform ${method}. Please use an API key with a correct scope.`,
    [],
    { key: keyName, method },
  );
}

export function tooManyRequests(retryDelayMs: number, limited: string): DomainError {
  return new DomainError(
    ErrorReason.TOO_MANY_REQUESTS,
    `Too many requests for this ${limited}; retry after ${Math.ceil(retryDelayMs)} ms.`,
    [],
    { limit: limited },
    retryDelayMs,
  );
}

/** A bound on what one caller may make the server hold; `limit` names it (README, Security). */
export function limitExceeded(limit: string, message: string, retryDelayMs?: number): DomainError {
  return new DomainError(ErrorReason.LIMIT_EXCEEDED, message, [], { limit }, retryDelayMs);
}
