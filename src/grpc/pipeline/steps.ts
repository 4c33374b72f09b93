// The steps every unary call goes through (unary.ts composes them), each one job.
import { status } from '@grpc/grpc-js';
import { badRequest } from '../../domain/errors';
import type { InFlightCalls } from '../call-hooks';
import { undecodable } from '../decoding';
import { toStatusError } from '../errors';
import type { Step } from './call-context';

/**
 * Outermost: every error becomes a gRPC status here, the one place (errors.ts), and the call's end
 * is recorded with it (metrics, access log; INTERNAL with the error).
 */
export const recorded: Step = (request, context, next) =>
  next(request, context).then(
    (response) => {
      context.recording(status.OK, context);
      return response;
    },
    (error: unknown) => {
      const statusError = toStatusError(error);
      context.recording(statusError.code, context, error);
      throw statusError;
    },
  );

/** A running handler counts as in flight, so that a graceful shutdown waits for it (drain.ts). */
export function countedInFlight(inFlight: InFlightCalls): Step {
  return (request, context, next) => {
    inFlight.begin();
    return next(request, context).then(
      (response) => {
        inFlight.end();
        return response;
      },
      (error: unknown) => {
        inFlight.end();
        throw error;
      },
    );
  };
}

/** A request with anything its decoder could not take (decoding.ts) is INVALID_ARGUMENT naming it. */
export const decodedRequest: Step = (request, context, next) => {
  const violations = undecodable(request);
  return violations ? Promise.reject(badRequest(violations)) : next(request, context);
};
