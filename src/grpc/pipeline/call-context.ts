// What a unary call's steps and its handler know about the call, made once when its handler is
// about to run (unary.ts): no step reads grpc-js's call object or metadata itself.
import type { Metadata } from '@grpc/grpc-js';
import type { Deadline } from '../../domain/deadline';
import type { CallRecording } from '../call-hooks';

export interface CallContext {
  /** The method's path, e.g. `/authtoken.v1.AuthTokenService/ValidateAuthToken`. */
  readonly path: string;
  /** When its work must be done, and whether its client has given up (deadline.ts). */
  readonly deadline: Deadline;
  /** The API key name it was admitted with (admission.ts); undefined for a call that needs none. */
  readonly caller: string | undefined;
  /** The client's `x-request-id`; undefined if it sent none (the access log then makes one up). */
  readonly requestId: string | undefined;
  /** Where its end is recorded: metrics and the access log (started at admission, call-hooks.ts). */
  readonly recording: CallRecording;
}

/** Handles a call: its handler, or a step with the rest of the pipeline behind it. */
export type Handle = (request: unknown, context: CallContext) => Promise<unknown>;

/** One job of the pipeline, around the rest of it (`next`). */
export type Step = (request: unknown, context: CallContext, next: Handle) => Promise<unknown>;

/** `steps` in order (the first is outermost), ending at `handler`. */
export function pipeline(steps: readonly Step[], handler: Handle): Handle {
  return steps.reduceRight<Handle>((next, step) => (request, context) => step(request, context, next), handler);
}

export function requestIdOf(metadata: Metadata): string | undefined {
  return metadata.get('x-request-id')[0]?.toString() || undefined;
}
