// Turns plain async handlers into grpc-js unary handlers. The caller was admitted, and the call's
// recording started, before its request was read (admission.ts); here each call gets its context
// (pipeline/call-context.ts) and goes through the steps (pipeline/steps.ts): its end recorded and
// its errors made statuses, counted in flight for graceful shutdown, its request checked for what
// could not be decoded, then its handler.
import {
  type Metadata,
  type MethodDefinition,
  type ServerUnaryCall,
  type ServiceDefinition,
  type UntypedServiceImplementation,
  type sendUnaryData,
} from '@grpc/grpc-js';
import { callDeadline } from '../domain/deadline';
import { callCancelled, type DomainError, deadlineExceeded } from '../domain/errors';
import { callerOf, recordingOf } from './admission';
import { type CallHooks, recordCall } from './call-hooks';
import { type CallContext, type Handle, pipeline, requestIdOf } from './pipeline/call-context';
import { countedInFlight, decodedRequest, recorded } from './pipeline/steps';

export type RequestOf<M> = M extends MethodDefinition<infer Req, infer _Res> ? Req : never;
export type ResponseOf<M> = M extends MethodDefinition<infer _Req, infer Res> ? Res : never;

/** The service's unary methods (a streaming one has a handler of its own, e.g. event-watch.ts). */
type UnaryMethods<S extends ServiceDefinition> = { [K in keyof S]: S[K]['responseStream'] extends true ? never : K }[keyof S];

/** Each handler gets the decoded request and the call's context, and returns the response or its encoding (encoded-responses.ts). */
export type Handlers<S extends ServiceDefinition> = {
  [K in UnaryMethods<S>]: (request: RequestOf<S[K]>, context: CallContext) => Promise<ResponseOf<S[K]> | Buffer>;
};

type UnaryCall = ServerUnaryCall<unknown, unknown>;

export function implement<S extends ServiceDefinition>(
  definition: S,
  handlers: Handlers<S>,
  hooks: CallHooks,
): UntypedServiceImplementation {
  const steps = [recorded, countedInFlight(hooks.inFlight), decodedRequest];
  const implementation: UntypedServiceImplementation = {};
  for (const key of Object.keys(handlers) as (UnaryMethods<S> & string)[]) {
    const path = definition[key]!.path;
    const handle = pipeline(steps, handlers[key] as Handle);
    implementation[key] = (call: UnaryCall, callback: sendUnaryData<unknown>) => {
      handle(call.request, callContext(call, path, hooks)).then(
        (response) => callback(null, response),
        (statusError) => callback(statusError),
      );
    };
  }
  return implementation;
}

/** A call's context, for unary calls and the event watch alike. */
export function callContext(
  call: Pick<UnaryCall, 'metadata' | 'cancelled' | 'getDeadline'>,
  path: string,
  hooks: CallHooks,
): CallContext {
  const metadata: Metadata = call.metadata;
  return {
    path,
    deadline: callDeadline(call.getDeadline(), () => givenUp(call)),
    caller: callerOf(metadata),
    // Read when asked (the access log): metadata lookups stay off the path of unlogged calls.
    get requestId() {
      return requestIdOf(metadata);
    },
    // Started when the call was admitted, so its duration includes any wait for a turn; should a
    // handler ever be served without the call guard, it starts now.
    recording: recordingOf(metadata) ?? recordCall(hooks, path),
  };
}

/**
 * Why the call's client no longer wants its work: grpc-js marks a call `cancelled` when its client
 * cancels it, its stream is reset, or its deadline passes (grpc-js then answers DEADLINE_EXCEEDED
 * itself). Read, not listened for: no listener per call (deadline.ts says why).
 */
export function givenUp(call: { readonly cancelled: boolean; getDeadline(): Date | number }): DomainError | undefined {
  if (!call.cancelled) return undefined;
  return Date.now() >= Number(call.getDeadline()) ? deadlineExceeded() : callCancelled();
}
