// Requests that cannot be decoded are the caller's fault: they get INVALID_ARGUMENT, not the
// INTERNAL that grpc-js answers when a deserializer throws.
import { configureTextEncoding, getTextEncoding } from '@bufbuild/protobuf/wire';
import type { ServiceDefinition } from '@grpc/grpc-js';

const UNDECODABLE = Symbol('undecodable');

export interface Undecodable {
  [UNDECODABLE]: string;
}

export function isUndecodable(request: unknown): request is Undecodable {
  return typeof request === 'object' && request !== null && UNDECODABLE in request;
}

/** A copy of `definition` whose request decoding reports failure as a value instead of throwing. */
export function decodingFailuresAsValues<S extends ServiceDefinition>(definition: S): S {
  const copy: Record<string, unknown> = {};
  for (const [key, method] of Object.entries(definition)) {
    copy[key] = {
      ...method,
      requestDeserialize: (bytes: Buffer) => {
        try {
          return method.requestDeserialize(bytes);
        } catch (error) {
          return { [UNDECODABLE]: (error as Error).message };
        }
      },
    };
  }
  return copy as S;
}

/** Proto3 strings must be valid UTF-8; by default the runtime would replace bad bytes with U+FFFD. */
export function rejectInvalidUtf8(): void {
  const encoding = getTextEncoding();
  configureTextEncoding({ ...encoding, decodeUtf8: (bytes) => encoding.decodeUtf8(bytes, true) });
}
