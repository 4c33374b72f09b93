// Responses encoded once and sent many times. A validation served from the cache gets the very
// same token and user records as the last time, so the bytes of its response can be reused
// instead of converting and encoding them again on the hot path.
import type { ServiceDefinition } from '@grpc/grpc-js';
import { ownedCopy } from '../owned-bytes';

/** The encoding of a response built from `key` and `extra`, kept as long as `key` lives. */
export class EncodedOnce<K extends object, R> {
  private readonly encoded = new WeakMap<K, { extra: object; bytes: Buffer }>();

  constructor(private readonly serialize: (response: R) => Buffer) {}

  of(key: K, extra: object, build: () => R): Buffer {
    const known = this.encoded.get(key);
    if (known?.extra === extra) return known.bytes;
    const bytes = ownedCopy(this.serialize(build()));
    this.encoded.set(key, { extra, bytes });
    return bytes;
  }
}

/** A copy of `definition` whose methods also take an already encoded response (a Buffer) as is. */
export function acceptingEncodedResponses<S extends ServiceDefinition>(definition: S): S {
  const copy: Record<string, unknown> = {};
  for (const [key, method] of Object.entries(definition)) {
    copy[key] = {
      ...method,
      responseSerialize: (response: unknown) =>
        Buffer.isBuffer(response) ? response : method.responseSerialize(response),
    };
  }
  return copy as S;
}
