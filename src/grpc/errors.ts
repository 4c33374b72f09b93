// The one mapping from domain errors to gRPC statuses with google.rpc error details
// (ErrorInfo always, BadRequest for validation, RetryInfo for rate limits), carried in the
// grpc-status-details-bin trailer.
import { Metadata, type StatusObject, status } from '@grpc/grpc-js';
import { DomainError, ErrorReason } from '../domain/errors';
import { BadRequest, ErrorInfo, RetryInfo } from '../../gen/google/rpc/error_details';
import { Status } from '../../gen/google/rpc/status';

export const ERROR_DOMAIN = 'authtoken.v1';

const STATUS_BY_REASON: Record<ErrorReason, status> = {
  [ErrorReason.BAD_REQUEST]: status.INVALID_ARGUMENT,
  [ErrorReason.UID_NOT_FOUND]: status.NOT_FOUND,
  [ErrorReason.UID_ALREADY_EXISTS]: status.ALREADY_EXISTS,
  [ErrorReason.AUTH_TOKEN_NOT_FOUND]: status.NOT_FOUND,
  [ErrorReason.API_KEY_NOT_FOUND]: status.UNAUTHENTICATED,
  [ErrorReason.NO_ACCESS]: status.PERMISSION_DENIED,
  [ErrorReason.TOO_MANY_REQUESTS]: status.RESOURCE_EXHAUSTED,
  [ErrorReason.LIMIT_EXCEEDED]: status.RESOURCE_EXHAUSTED,
  [ErrorReason.DEADLINE_EXCEEDED]: status.DEADLINE_EXCEEDED,
  [ErrorReason.CANCELLED]: status.CANCELLED,
  [ErrorReason.SERVICE_UNAVAILABLE]: status.UNAVAILABLE,
  [ErrorReason.RESUME_TOKEN_EXPIRED]: status.FAILED_PRECONDITION,
  [ErrorReason.OPERATION_FAILED]: status.INTERNAL,
};

/** Anything that is not a DomainError is a bug: INTERNAL, with no internals in the message. */
export function toStatusError(error: unknown): StatusObject {
  const domainError =
    error instanceof DomainError
      ? error
      : new DomainError(ErrorReason.OPERATION_FAILED, 'Internal error; it has been logged.');
  const code = STATUS_BY_REASON[domainError.reason];
  const details = [
    packAny('google.rpc.ErrorInfo', ErrorInfo.encode({
      reason: domainError.reason,
      domain: ERROR_DOMAIN,
      metadata: { ...domainError.metadata },
    }).finish()),
  ];
  if (domainError.fieldViolations.length > 0) {
    const fieldViolations = domainError.fieldViolations.map(({ field, description }) => ({ field, description }));
    const badRequest = BadRequest.encode(BadRequest.fromPartial({ fieldViolations })).finish();
    details.push(packAny('google.rpc.BadRequest', badRequest));
  }
  if (domainError.retryDelayMs !== undefined) {
    const delayMs = Math.ceil(domainError.retryDelayMs);
    const retryDelay = { seconds: Math.floor(delayMs / 1000), nanos: (delayMs % 1000) * 1_000_000 };
    details.push(packAny('google.rpc.RetryInfo', RetryInfo.encode({ retryDelay }).finish()));
  }
  const metadata = new Metadata();
  metadata.set(
    'grpc-status-details-bin',
    Buffer.from(Status.encode({ code, message: domainError.message, details }).finish()),
  );
  return { code, details: domainError.message, metadata };
}

function packAny(typeName: string, value: Uint8Array) {
  return { typeUrl: `type.googleapis.com/${typeName}`, value: Buffer.from(value) };
}
