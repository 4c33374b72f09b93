// API key, scope and per-key rate limit, checked on the call's metadata as an interceptor: a
// caller without a valid key is refused before its request body is read or any handler runs.
import { type Metadata, ServerInterceptingCall, type ServerInterceptor } from '@grpc/grpc-js';
import type { AccessControl } from './access';
import { toStatusError } from './errors';
import { type CallHooks, recordCall } from './call-hooks';

/** The admitted caller's key name, by the call's metadata object (which grpc-js hands on as is). */
const callers = new WeakMap<Metadata, string>();

export function callerOf(metadata: Metadata): string | undefined {
  return callers.get(metadata);
}

/** Admits calls to `keyedPaths`; other methods (health, reflection) pass untouched. */
export function admission(access: AccessControl, keyedPaths: ReadonlySet<string>, hooks: CallHooks): ServerInterceptor {
  return (method, inner) => {
    if (!keyedPaths.has(method.path)) return new ServerInterceptingCall(inner);
    const methodName = method.path.slice(method.path.lastIndexOf('/') + 1);
    return new ServerInterceptingCall(inner, {
      start: (next) =>
        next({
          onReceiveMetadata: (metadata, admitted) => {
            let name: string;
            try {
              name = access.admit(metadata, methodName);
            } catch (error) {
              const refusal = toStatusError(error);
              recordCall(hooks, method.path, metadata)(refusal.code, undefined, error);
              inner.sendStatus(refusal);
              return;
            }
            callers.set(metadata, name);
            admitted(metadata);
          },
        }),
    });
  };
}
