// Responses encoded once and sent many times. A validation served from the cache gets the very
// same token and user records as the last time, so the bytes of its response can be reused
// instead of converting and encoding them again on the hot path.
import { ownedCopy } from '../shared/owned-bytes';

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

/** `serialize`, except that an already encoded response (a Buffer) is sent as it is. */
export function passingEncoded(serialize: (response: unknown) => Buffer): (response: unknown) => Buffer {
  return (response) => (Buffer.isBuffer(response) ? response : serialize(response));
}
