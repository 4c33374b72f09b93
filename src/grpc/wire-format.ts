// A strict protobuf wire-format check of a request against its message descriptor, run before the
// generated decoder, which is lenient: it stops at a zero tag or a stray END_GROUP, accepts
// over-long varints, and lets a nested message read past its own length. This rejects what strict
// parsers (C++, Go) reject, so the service never reads a request differently from a proxy in front
// of it; like them, it skips unknown fields (and known fields sent with another wire type).
import { type DescField, type DescMessage, ScalarType } from '@bufbuild/protobuf';

/** Protobuf's wire types (struct-check.ts reads Structs with them too). */
export const VARINT = 0;
export const FIXED64 = 1;
export const LEN = 2;
const START_GROUP = 3;
export const END_GROUP = 4;
export const FIXED32 = 5;
const MAX_FIELD_NUMBER = 2 ** 29 - 1;
/** Protobuf's usual recursion limit: Struct values can nest. */
const MAX_DEPTH = 100;

interface Expected {
  wireTypes: readonly number[];
  /** For message-typed (and map entry) fields: what their own fields must look like. */
  fields?: (fieldNumber: number) => Expected | undefined;
}

class WireFormatError extends Error {}

/** Why `bytes` is not a well-formed encoding of `message`, or undefined if it is. */
export function wireFormatError(bytes: Uint8Array, message: DescMessage): string | undefined {
  try {
    walk(bytes, 0, bytes.length, fieldsOf(message), 0);
    return undefined;
  } catch (error) {
    if (error instanceof WireFormatError) return error.message;
    throw error;
  }
}

/**
 * Checks fields from `start` to `end`. Inside a group, returns where its END_GROUP ends; at message
 * level, the end must be reached exactly.
 */
function walk(
  bytes: Uint8Array,
  start: number,
  end: number,
  fields: Expected['fields'],
  depth: number,
  group?: number,
): number {
  if (depth > MAX_DEPTH) throw new WireFormatError(`messages nested deeper than ${MAX_DEPTH}`);
  let pos = start;
  while (pos < end) {
    let tag: number;
    [tag, pos] = readVarint(bytes, pos, end, 5);
    const fieldNumber = Math.floor(tag / 8);
    const wireType = tag % 8;
    if (fieldNumber < 1 || fieldNumber > MAX_FIELD_NUMBER) throw new WireFormatError(`invalid field number ${fieldNumber}`);
    // As in every protobuf parser, a known field sent with another wire type is an unknown field.
    const expected = fields?.(fieldNumber);
    const known = expected?.wireTypes.includes(wireType) ? expected : undefined;
    if (wireType === VARINT) pos = readVarint(bytes, pos, end, 10)[1];
    else if (wireType === FIXED64) pos = within(pos + 8, end);
    else if (wireType === FIXED32) pos = within(pos + 4, end);
    else if (wireType === LEN) {
      let length: number;
      [length, pos] = readVarint(bytes, pos, end, 5);
      const fieldEnd = within(pos + length, end);
      if (known?.fields) walk(bytes, pos, fieldEnd, known.fields, depth + 1);
      pos = fieldEnd;
    } else if (wireType === START_GROUP) {
      pos = walk(bytes, pos, end, undefined, depth + 1, fieldNumber);
    } else if (wireType === END_GROUP && fieldNumber === group) {
      return pos;
    } else {
      throw new WireFormatError(`unexpected wire type ${wireType} for field ${fieldNumber}`);
    }
  }
  if (group !== undefined) throw new WireFormatError(`group ${group} is not closed`);
  return pos;
}

/** The varint at `pos` (at most `maxBytes` long, before `end`) and where it ends. */
export function readVarint(bytes: Uint8Array, pos: number, end: number, maxBytes: number): [number, number] {
  let value = 0;
  for (let i = 0; i < maxBytes && pos + i < end; i++) {
    const byte = bytes[pos + i]!;
    value += (byte & 0x7f) * 2 ** (7 * i);
    if (byte < 0x80) return [value, pos + i + 1];
  }
  throw new WireFormatError(`truncated or over-long varint at byte ${pos}`);
}

function within(pos: number, end: number): number {
  if (pos > end) throw new WireFormatError('a length or fixed-size value runs past the end of its message');
  return pos;
}

const lookups = new WeakMap<DescMessage, (fieldNumber: number) => Expected | undefined>();

function fieldsOf(message: DescMessage): (fieldNumber: number) => Expected | undefined {
  let lookup = lookups.get(message);
  if (!lookup) {
    const byNumber = new Map(message.fields.map((f) => [f.number, f]));
    // Computed on first use, so recursive types (Struct → Value → Struct) are fine.
    const expected = new Map<number, Expected>();
    lookup = (n) => {
      const field = byNumber.get(n);
      if (!field) return undefined; // unknown fields are skipped, as proto3 requires
      if (!expected.has(n)) expected.set(n, expectedFor(field));
      return expected.get(n);
    };
    lookups.set(message, lookup);
  }
  return lookup;
}

function expectedFor(field: DescField): Expected {
  switch (field.fieldKind) {
    case 'scalar':
      return { wireTypes: [wireTypeOf(field.scalar)] };
    case 'enum':
      return { wireTypes: [VARINT] };
    case 'message':
      return { wireTypes: [LEN], fields: fieldsOf(field.message) };
    case 'list': {
      if (field.listKind === 'message') return { wireTypes: [LEN], fields: fieldsOf(field.message) };
      const element = field.listKind === 'enum' ? VARINT : wireTypeOf(field.scalar);
      return { wireTypes: element === LEN ? [LEN] : [element, LEN] }; // LEN: packed
    }
    case 'map': {
      const key: Expected = { wireTypes: [wireTypeOf(field.mapKey)] };
      const value: Expected =
        field.mapKind === 'message'
          ? { wireTypes: [LEN], fields: fieldsOf(field.message) }
          : { wireTypes: [field.mapKind === 'enum' ? VARINT : wireTypeOf(field.scalar)] };
      return { wireTypes: [LEN], fields: (n) => (n === 1 ? key : n === 2 ? value : undefined) };
    }
  }
}

function wireTypeOf(scalar: ScalarType): number {
  switch (scalar) {
    case ScalarType.DOUBLE:
    case ScalarType.FIXED64:
    case ScalarType.SFIXED64:
      return FIXED64;
    case ScalarType.FLOAT:
    case ScalarType.FIXED32:
    case ScalarType.SFIXED32:
      return FIXED32;
    case ScalarType.STRING:
    case ScalarType.BYTES:
      return LEN;
    default:
      return VARINT;
  }
}
