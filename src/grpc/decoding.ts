// Requests that are not well-formed protobuf are the caller's fault: they get INVALID_ARGUMENT,
// not the INTERNAL that grpc-js answers when a deserializer throws, nor a lenient reading.
import { configureTextEncoding, getTextEncoding } from '@bufbuild/protobuf/wire';
import type { ServiceDefinition } from '@grpc/grpc-js';
import { descriptorSet } from './descriptors';
import { wireFormatError } from './wire-format';

const UNDECODABLE = Symbol('undecodable');

export interface Undecodable {
  [UNDECODABLE]: string;
}

/** Why the request could not be decoded, or undefined if it was. */
export function undecodableReason(request: unknown): string | undefined {
  return typeof request === 'object' && request !== null && UNDECODABLE in request
    ? (request as Undecodable)[UNDECODABLE]
    : undefined;
}

/**
 * A copy of `definition` whose request decoding first checks the wire format strictly, and reports
 * any failure as a value instead of throwing.
 */
export function decodingFailuresAsValues<S extends ServiceDefinition>(definition: S): S {
  const { registry } = descriptorSet();
  const copy: Record<string, unknown> = {};
  for (const [key, method] of Object.entries(definition)) {
    const [, serviceName = '', methodName] = method.path.split('/');
    const input = registry.getService(serviceName)?.methods.find((m) => m.name === methodName)?.input;
    if (!input) throw new Error(`${method.path} is not in gen/descriptor.binpb: run npm run gen`);
    copy[key] = {
      ...method,
      requestDeserialize: (bytes: Buffer) => {
        const malformed = wireFormatError(bytes, input);
        if (malformed) return { [UNDECODABLE]: malformed };
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
