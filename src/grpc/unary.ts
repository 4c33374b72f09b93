// Turns plain async handlers into grpc-js unary handlers. The caller was admitted, and the call's
// recording started, before its request was read (admission.ts); here each call gets its deadline
// (deadline.ts: when it must be done, and whether its client has given up), its request is checked
// for what could not be decoded, and its end is recorded (metrics, access log) and counted for
// graceful shutdown. Errors become statuses in one place (errors.ts).
import {
  type MethodDefinition,
  type ServerUnaryCall,
  type ServiceDefinition,
  type UntypedServiceImplementation,
  type sendUnaryData,
  status,
} from '@grpc/grpc-js';
import { callDeadline, type Deadline } from '../domain/deadline';
import { badRequest, callCancelled, type DomainError, deadlineExceeded } from '../domain/errors';
import { callerOf, outcomeOf } from './admission';
import { type CallHooks, recordCall } from './call-hooks';
import { undecodable } from './decoding';
import { toStatusError } from './errors';

export type RequestOf<M> = M extends MethodDefinition<infer Req, infer _Res> ? Req : never;
export type ResponseOf<M> = M extends MethodDefinition<infer _Req, infer Res> ? Res : never;

/** Each handler gets the decoded request and the call's deadline, and returns the response or its encoding (encoded-responses.ts). */
export type Handlers<S extends ServiceDefinition> = {
  [K in keyof S]: (request: RequestOf<S[K]>, deadline: Deadline) => Promise<ResponseOf<S[K]> | Buffer>;
};

type UnaryCall = ServerUnaryCall<unknown, unknown>;

export function implement<S extends ServiceDefinition>(
  definition: S,
  handlers: Handlers<S>,
  hooks: CallHooks,
): UntypedServiceImplementation {
  const implementation: UntypedServiceImplementation = {};
  for (const key of Object.keys(definition) as (keyof S & string)[]) {
    const path = definition[key]!.path;
    const handle = handlers[key] as (request: unknown, deadline: Deadline) => Promise<unknown>;
    implementation[key] = (call: UnaryCall, callback: sendUnaryData<unknown>) => {
      hooks.inFlight.begin();
      // Recording started when the call was admitted (so its duration includes any wait for a turn);
      // should a handler ever be served without the call guard, it starts now.
      const finish = outcomeOf(call.metadata) ?? recordCall(hooks, path, call.metadata);
      const deadline = callDeadline(call.getDeadline(), () => givenUp(call));
      checkedRequest(call.request)
        .then((request) => handle(request, deadline))
        .then(
          (response) => {
            callback(null, response);
            finish(status.OK, callerOf(call.metadata));
            hooks.inFlight.end();
          },
          (error: unknown) => {
            const statusError = toStatusError(error);
            callback(statusError);
            finish(statusError.code, callerOf(call.metadata), error);
            hooks.inFlight.end();
          },
        );
    };
  }
  return implementation;
}

/** The request as decoded, or INVALID_ARGUMENT naming what could not be decoded (decoding.ts). */
export function checkedRequest(request: unknown): Promise<unknown> {
  const violations = undecodable(request);
  return violations ? Promise.reject(badRequest(violations)) : Promise.resolve(request);
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
