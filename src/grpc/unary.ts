// Turns plain async handlers into grpc-js unary handlers: maps errors to statuses and writes one
// access-log line per call (method, status, duration, request id), never a request body.
import { randomUUID } from 'node:crypto';
import { type MethodDefinition, type ServiceDefinition, status, type UntypedServiceImplementation } from '@grpc/grpc-js';
import type { Logger } from '../logger';
import { toStatusError } from './errors';

export type RequestOf<M> = M extends MethodDefinition<infer Req, infer _Res> ? Req : never;
export type ResponseOf<M> = M extends MethodDefinition<infer _Req, infer Res> ? Res : never;

export type Handlers<S extends ServiceDefinition> = {
  [K in keyof S]: (request: RequestOf<S[K]>) => Promise<ResponseOf<S[K]>>;
};

export function implement<S extends ServiceDefinition>(
  definition: S,
  handlers: Handlers<S>,
  log: Logger,
): UntypedServiceImplementation {
  const implementation: UntypedServiceImplementation = {};
  for (const key of Object.keys(definition) as (keyof S & string)[]) {
    const method = definition[key]!.path.slice(1);
    const handle = handlers[key];
    implementation[key] = (call: any, callback: any) => {
      const started = process.hrtime.bigint();
      const requestId = call.metadata.get('x-request-id')[0]?.toString() || randomUUID();
      const done = (code: status, error?: unknown) => {
        const durationMs = Number(process.hrtime.bigint() - started) / 1e6;
        const line = { method, code: status[code], durationMs, requestId };
        if (code === status.INTERNAL) log.error({ ...line, err: error }, 'call failed');
        else log.info(line, 'call');
      };
      handle(call.request).then(
        (response) => {
          done(status.OK);
          callback(null, response);
        },
        (error: unknown) => {
          const statusError = toStatusError(error);
          done(statusError.code, error);
          callback(statusError);
        },
      );
    };
  }
  return implementation;
}
