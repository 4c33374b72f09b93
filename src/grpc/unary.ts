// Turns plain async handlers into grpc-js unary handlers. Per call it: admits the caller (API key,
// scope, rate limit), rejects undecodable requests, runs the handler under the call's deadline
// (which storage turns into maxTimeMS), maps errors to statuses, counts the call in metrics, tracks
// it for graceful shutdown, and writes one access-log line (method, status, duration, request id,
// key name), never a request body or a secret.
import { randomUUID } from 'node:crypto';
import {
  type MethodDefinition,
  type ServerUnaryCall,
  type ServiceDefinition,
  type UntypedServiceImplementation,
  type sendUnaryData,
  status,
} from '@grpc/grpc-js';
import { callDeadline } from '../call-deadline';
import { badRequest } from '../domain/errors';
import type { Logger } from '../logger';
import type { AccessControl } from './access';
import { undecodableReason } from './decoding';
import { toStatusError } from './errors';

export type RequestOf<M> = M extends MethodDefinition<infer Req, infer _Res> ? Req : never;
export type ResponseOf<M> = M extends MethodDefinition<infer _Req, infer Res> ? Res : never;

/**
 * Each handler gets the decoded request and the call's deadline (epoch ms, see callDeadline), and
 * returns the response or its encoding (see encoded-responses.ts).
 */
export type Handlers<S extends ServiceDefinition> = {
  [K in keyof S]: (request: RequestOf<S[K]>, deadline: number) => Promise<ResponseOf<S[K]> | Buffer>;
};

export interface CallHooks {
  log: Logger;
  /** Called when a call starts; the returned function when it ends, with the status name. */
  observe(path: string): (code: string) => void;
  inFlight: InFlightCalls;
  access: AccessControl;
}

/** Counts unary calls being handled, so shutdown can wait for exactly those. */
export class InFlightCalls {
  private active = 0;
  private waiters: (() => void)[] = [];

  begin(): () => void {
    this.active++;
    return () => {
      if (--this.active === 0) this.waiters.splice(0).forEach((wake) => wake());
    };
  }

  idle(): Promise<void> {
    return this.active === 0 ? Promise.resolve() : new Promise((wake) => this.waiters.push(wake));
  }
}

export function implement<S extends ServiceDefinition>(
  definition: S,
  handlers: Handlers<S>,
  hooks: CallHooks,
): UntypedServiceImplementation {
  const implementation: UntypedServiceImplementation = {};
  for (const key of Object.keys(definition) as (keyof S & string)[]) {
    const path = definition[key]!.path;
    const method = path.split('/')[2]!;
    const handle = handlers[key];
    implementation[key] = (call: ServerUnaryCall<RequestOf<S[typeof key]>, unknown>, callback: sendUnaryData<unknown>) => {
      const end = hooks.inFlight.begin();
      const observed = hooks.observe(path);
      const started = process.hrtime.bigint();
      const deadline = callDeadline(call.getDeadline());
      let keyName: string | undefined;
      const finish = (code: status, error?: unknown) => {
        const failed = code === status.INTERNAL;
        if (failed || hooks.log.isLevelEnabled('info')) {
          const line = {
            method: path.slice(1),
            code: status[code],
            durationMs: Number(process.hrtime.bigint() - started) / 1e6,
            requestId: call.metadata.get('x-request-id')[0]?.toString() || randomUUID(),
            key: keyName,
          };
          if (failed) hooks.log.error({ ...line, err: error }, 'call failed');
          else hooks.log.info(line, 'call');
        }
        observed(status[code]);
        end();
      };
      const serve = async () => {
        keyName = hooks.access.admit(call.metadata, method);
        const malformed = undecodableReason(call.request);
        if (malformed !== undefined) {
          throw badRequest([{ field: '', description: `Not a well-formed ${method} request: ${malformed}.` }]);
        }
        return handle(call.request, deadline);
      };
      serve().then(
        (response) => {
          callback(null, response);
          finish(status.OK);
        },
        (error: unknown) => {
          const statusError = toStatusError(error);
          callback(statusError);
          finish(statusError.code, error);
        },
      );
    };
  }
  return implementation;
}
