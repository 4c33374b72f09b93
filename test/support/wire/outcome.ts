// What a call ended with, in one shape whichever of the three transports sent it: the status code
// and, when the server sent rich details (grpc-status-details-bin), the ErrorInfo reason and the
// BadRequest field names. The details are decoded by ../grpc-status.ts, from bytes (the raw HTTP/2
// transport has only a header, no ServiceError). Unlike its DecodedError, an Outcome leaves
// `reason` and `fields` out when the server sent no such detail: grpc-js's own answers (size
// limits, cardinality) carry none, and a test must tell "no reason" from "an empty one".
import type { ServiceError } from '@grpc/grpc-js';
import { decodeStatusDetails, detailTypes, STATUS_DETAILS_KEY } from '../grpc-status';

const ERROR_INFO = 'type.googleapis.com/google.rpc.ErrorInfo';
const BAD_REQUEST = 'type.googleapis.com/google.rpc.BadRequest';

export interface Outcome {
  code: number;
  reason?: string;
  fields?: string[];
}

/** The outcome of status `code` with the encoded google.rpc.Status `details`, if any. */
export function decodeOutcome(code: number, details: Buffer | undefined): Outcome {
  if (!details) return { code };
  const decoded = decodeStatusDetails(code, details);
  const outcome: Outcome = { code };
  const types = detailTypes(details);
  if (types.includes(ERROR_INFO)) outcome.reason = decoded.reason;
  if (types.includes(BAD_REQUEST)) outcome.fields = decoded.fields;
  return outcome;
}

/** The outcome of a grpc-js call that failed with `error`. */
export function outcomeOfError(error: ServiceError): Outcome {
  const details = error.metadata?.get(STATUS_DETAILS_KEY)[0];
  return decodeOutcome(error.code, Buffer.isBuffer(details) ? details : undefined);
}
