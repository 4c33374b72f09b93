// What a client sees of a failed call: the status, and the rich details (google.rpc.Status in the
// grpc-status-details-bin trailer) decoded as any client would. Also the bearer metadata every
// keyed call carries. The one decoder the tests share.
import { Metadata, type ServiceError } from '@grpc/grpc-js';
import { BadRequest, ErrorInfo, RetryInfo } from '../../gen/google/rpc/error_details';
import { Status } from '../../gen/google/rpc/status';

export const STATUS_DETAILS_KEY = 'grpc-status-details-bin';

export interface DecodedError {
  code: number;
  message: string;
  reason: string;
  domain: string;
  metadata: Record<string, string>;
  /** BadRequest field violations, by field name. */
  fields: string[];
  /** RetryInfo.retry_delay in milliseconds, when the status carries one. */
  retryDelayMs?: number;
}

/** Decodes the bytes of a grpc-status-details-bin trailer sent with status `code`. */
export function decodeStatusDetails(code: number, raw: Uint8Array): DecodedError {
  const status = Status.decode(raw);
  // The rich status must agree with the plain one, or a client reading either would be misled.
  if (status.code !== code) throw new Error(`grpc-status ${code}, but the details say ${status.code}`);
  const decoded: DecodedError = { code, message: status.message, reason: '', domain: '', metadata: {}, fields: [] };
  for (const detail of status.details) {
    if (detail.typeUrl === 'type.googleapis.com/google.rpc.ErrorInfo') {
      const info = ErrorInfo.decode(detail.value);
      decoded.reason = info.reason;
      decoded.domain = info.domain;
      decoded.metadata = info.metadata;
    } else if (detail.typeUrl === 'type.googleapis.com/google.rpc.BadRequest') {
      decoded.fields = BadRequest.decode(detail.value).fieldViolations.map((v) => v.field);
    } else if (detail.typeUrl === 'type.googleapis.com/google.rpc.RetryInfo') {
      const delay = RetryInfo.decode(detail.value).retryDelay!;
      decoded.retryDelayMs = delay.seconds * 1000 + delay.nanos / 1e6;
    }
  }
  return decoded;
}

/** The decoded status of a failed call; throws if it carries no details (every error here does). */
export function decodeError(error: ServiceError): DecodedError {
  const raw = error.metadata?.get(STATUS_DETAILS_KEY)[0];
  if (!Buffer.isBuffer(raw)) throw new Error(`no ${STATUS_DETAILS_KEY} on ${error.code}: ${error.details}`);
  return decodeStatusDetails(error.code, raw);
}

/** The type URLs of the details in a grpc-status-details-bin trailer, in order. */
export function detailTypes(raw: Uint8Array): string[] {
  return Status.decode(raw).details.map((d) => d.typeUrl);
}

/** The ErrorInfo reason of a failed call, or '' when it carries none (e.g. a transport failure). */
export function reasonOf(error: Pick<ServiceError, 'code' | 'metadata'>): string {
  const raw = error.metadata?.get(STATUS_DETAILS_KEY)[0];
  return Buffer.isBuffer(raw) ? decodeStatusDetails(error.code, raw).reason : '';
}

/** The status and rich details of a call that must fail. */
export async function grpcError(pending: Promise<unknown>): Promise<DecodedError> {
  try {
    await pending;
  } catch (error) {
    return decodeError(error as ServiceError);
  }
  throw new Error('expected the call to fail, but it succeeded');
}

/** The `authorization` value for an API key. */
export const bearerValue = (key: string) => `Bearer ${key}`;

/** Metadata carrying an API key. */
export function bearer(key: string): Metadata {
  const metadata = new Metadata();
  metadata.set('authorization', bearerValue(key));
  return metadata;
}
