// Requests that are not well-formed protobuf are the caller's fault: they get INVALID_ARGUMENT,
// not the INTERNAL that grpc-js answers when a deserializer throws, nor a lenient reading. So do
// Struct fields that the decoder would not read exactly as sent (struct-check.ts).
import { configureTextEncoding, getTextEncoding } from '@bufbuild/protobuf/wire';
import type { ServiceDefinition } from '@grpc/grpc-js';
import type { FieldViolation } from '../domain/errors';
import { descriptorSet } from './descriptors';
import { structChecker } from './struct-check';
import { wireFormatError } from './wire-format';

const UNDECODABLE = Symbol('undecodable');

export interface Undecodable {
  [UNDECODABLE]: FieldViolation[];
}

/** What made the request unreadable (field "" for the message as a whole), or undefined if nothing. */
export function undecodable(request: unknown): FieldViolation[] | undefined {
  return typeof request === 'object' && request !== null && UNDECODABLE in request
    ? (request as Undecodable)[UNDECODABLE]
    : undefined;
}

/**
 * A copy of `definition` whose request decoding first checks the wire format and the Struct fields
 * strictly, and reports any failure as a value instead of throwing.
 */
export function decodingFailuresAsValues<S extends ServiceDefinition>(definition: S): S {
  const { registry } = descriptorSet();
  const copy: Record<string, unknown> = {};
  for (const [key, method] of Object.entries(definition)) {
    const [, serviceName = '', methodName] = method.path.split('/');
    const input = registry.getService(serviceName)?.methods.find((m) => m.name === methodName)?.input;
    if (!input) throw new Error(`${method.path} is not in gen/descriptor.binpb: run npm run gen`);
    const inexactStructs = structChecker(input);
    const malformed = (reason: string) => ({
      [UNDECODABLE]: [{ field: '', description: `Not a well-formed ${methodName} request: ${reason}.` }],
    });
    copy[key] = {
      ...method,
      requestDeserialize: (bytes: Buffer) => {
        const wireError = wireFormatError(bytes, input);
        if (wireError) return malformed(wireError);
        const inexact = inexactStructs?.(bytes);
        if (inexact?.length) return { [UNDECODABLE]: inexact };
        try {
          return method.requestDeserialize(bytes);
        } catch (error) {
          return malformed((error as Error).message);
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
