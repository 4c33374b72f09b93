// Generated gRPC clients as promises: what the tests and the benchmark call the service with.
import { type CallOptions, type Client, Metadata, type ServiceDefinition, type ServiceError } from '@grpc/grpc-js';
import type { RequestOf, ResponseOf } from '../../src/grpc/unary';

/**
 * A generated client's unary methods as promises, taking partial requests (unset fields get proto
 * defaults). Streams are read with the generated client itself (event-watch.ts).
 */
export type PromisedClient<S extends ServiceDefinition> = {
  [K in keyof S as S[K]['responseStream'] extends true ? never : K]: (
    request: Partial<RequestOf<S[K]>>,
    metadata?: Metadata,
    options?: CallOptions,
  ) => Promise<ResponseOf<S[K]>>;
};

export function promised<S extends ServiceDefinition>(definition: S, client: Client): PromisedClient<S> {
  const methods: Record<string, unknown> = {};
  for (const [key, method] of Object.entries(definition)) {
    if (method.responseStream) continue;
    // Decoding an empty message yields every field at its proto default.
    const defaults = method.requestDeserialize(Buffer.alloc(0));
    methods[key] = (request: object, metadata = new Metadata(), options: CallOptions = {}) =>
      new Promise((resolve, reject) =>
        (client as unknown as Record<string, Function>)[key]!.call(
          client,
          { ...defaults, ...request },
          metadata,
          options,
          (error: ServiceError | null, response: unknown) => (error ? reject(error) : resolve(response)),
        ),
      );
  }
  return methods as PromisedClient<S>;
}
