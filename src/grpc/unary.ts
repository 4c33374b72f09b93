// Turns plain async handlers into grpc-js unary handlers. Per call it: rejects undecodable
// requests, runs the handler under the call's deadline (which storage turns into maxTimeMS), maps
// errors to statuses, counts the call in metrics, tracks it for graceful shutdown, and writes one
// access-log line (method, status, duration, request id, key name), never a request body or a
// secret. The caller was admitted before its request was read (admission.ts).
import {
  type MethodDefinition,
  type ServerUnaryCall,
  type ServiceDefinition,
  type UntypedServiceImplementation,
  type sendUnaryData,
  status,
} from '@grpc/grpc-js';
import { callDeadline, type Deadline } from '../domain/deadline';
import { badRequest } from '../domain/errors';
import { callerOf, outcomeOf } from './admission';
import { type CallHooks, recordCall } from './call-hooks';
import { undecodable } from './decoding';
import { toStatusError } from './errors';

export type RequestOf<M> = M extends MethodDefinition<infer Req, infer _Res> ? Req : never;
export type ResponseOf<M> = M extends MethodDefinition<infer _Req, infer Res> ? Res : never;

/**
 * Each handler gets the decoded request and the call's deadline (epoch ms, see callDeadline), and
 * returns the response or its encoding (see encoded-responses.ts).
 */
export type Handlers<S extends ServiceDefinition> = {
  [K in keyof S]: (request: RequestOf<S[K]>, deadline: Deadline) => Promise<ResponseOf<S[K]> | Buffer>;
};

export function implement<S extends ServiceDefinition>(
  definition: S,
  handlers: Handlers<S>,
  hooks: CallHooks,
): UntypedServiceImplementation {
  const implementation: UntypedServiceImplementation = {};
  for (const key of Object.keys(definition) as (keyof S & string)[]) {
    const path = definition[key]!.path;
    const handle = handlers[key];
    implementation[key] = (call: ServerUnaryCall<RequestOf<S[typeof key]>, unknown>, callback: sendUnaryData<unknown>) => {
      hooks.inFlight.begin();
      // Recording started when the call was admitted (so its duration includes any wait for a turn);
      // should a handler ever be served without the call guard, it starts now.
      const finish = outcomeOf(call.metadata) ?? recordCall(hooks, path, call.metadata);
      const deadline = callDeadline(call.getDeadline());
      const serve = async () => {
        const violations = undecodable(call.request);
        if (violations) throw badRequest(violations);
        return handle(call.request, deadline);
      };
      serve().then(
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
