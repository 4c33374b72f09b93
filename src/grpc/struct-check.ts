// Struct fields (metadata, app_info) are kept as JSON and given back as they came, so they must be
// exactly what JSON can hold. The generated decoder would silently change some of what was sent:
// a value with no kind set is dropped, a "__proto__" key sets the decoded object's prototype
// instead of a property, a repeated key or a second kind keeps only the last one, unknown fields
// vanish, NaN and ±Infinity turn into null and -0 into 0. This reads each Struct of a request from
// its bytes (wire-format.ts has already found them well-formed) and names the first such value, so
// that the request is refused instead. Struct fields are top-level fields of our requests.
import type { DescMessage } from '@bufbuild/protobuf';
import type { FieldViolation } from '../domain/errors';
import { END_GROUP, FIXED32, FIXED64, LEN, readVarint, VARINT } from './wire-format';

const STRUCT = 'google.protobuf.Struct';
/** Keys are quoted in descriptions up to this many characters. */
const KEY_SHOWN_CHARS = 40;

class Inexact extends Error {}

/**
 * The checker for requests of type `message`: it returns the fields whose Struct is not exactly
 * JSON, with where and why (empty if none), or is undefined when the message has no Struct field.
 */
export function structChecker(message: DescMessage): ((bytes: Uint8Array) => FieldViolation[]) | undefined {
  const structFields = new Map(
    message.fields.filter((f) => f.fieldKind === 'message' && f.message.typeName === STRUCT).map((f) => [f.number, f.name]),
  );
  if (structFields.size === 0) return undefined;
  // A field's tag must appear in the bytes for the field to be there; most requests have no Struct,
  // and looking for one byte is cheaper than reading every field (tags of fields 1-15 are one byte).
  const tags = [...structFields.keys()].map((number) => (number < 16 ? number * 8 + LEN : -1));
  return (bytes) => {
    if (tags.every((tag) => tag >= 0 && !bytes.includes(tag))) return [];
    // Occurrences of a message field merge: together they are one Struct, with one set of keys.
    const keys = new Map<number, Set<string>>();
    const violations: FieldViolation[] = [];
    for (const field of fieldsOf(bytes, 0, bytes.length)) {
      const name = structFields.get(field.number);
      if (name === undefined || field.wireType !== LEN || violations.some((v) => v.field === name)) continue;
      if (!keys.has(field.number)) keys.set(field.number, new Set());
      try {
        checkStruct(bytes, field.start, field.end, name, keys.get(field.number));
      } catch (error) {
        if (!(error instanceof Inexact)) throw error;
        violations.push({ field: name, description: error.message });
      }
    }
    return violations;
  };
}

function checkStruct(bytes: Uint8Array, start: number, end: number, path: string, keys = new Set<string>()): void {
  for (const field of fieldsOf(bytes, start, end)) {
    if (field.number !== 1 || field.wireType !== LEN) throw unknownField('Struct', field.number, path);
    let key: string | undefined;
    let value: { start: number; end: number } | undefined;
    for (const part of fieldsOf(bytes, field.start, field.end)) {
      if (part.number === 1 && part.wireType === LEN && key === undefined) key = utf8(bytes, part.start, part.end);
      else if (part.number === 2 && part.wireType === LEN && !value) value = part;
      else throw new Inexact(`A Struct entry at ${path} has a repeated or unknown field ${part.number}.`);
    }
    key ??= '';
    const at = `${path}${keyPath(key)}`;
    if (key === '__proto__') throw new Inexact(`The key "__proto__" (at ${path}) is not accepted.`);
    if (keys.has(key)) throw new Inexact(`The key ${quoted(key)} appears twice at ${path}.`);
    keys.add(key);
    if (!value) throw new Inexact(`${at} has no value.`);
    checkValue(bytes, value.start, value.end, at);
  }
}

function checkValue(bytes: Uint8Array, start: number, end: number, path: string): void {
  let kinds = 0;
  for (const field of fieldsOf(bytes, start, end)) {
    kinds++;
    if (field.number === 2 && field.wireType === FIXED64) {
      const number = new DataView(bytes.buffer, bytes.byteOffset + field.start, 8).getFloat64(0, true);
      if (!Number.isFinite(number)) throw new Inexact(`${path} is ${number}, which is not a JSON number.`);
      if (Object.is(number, -0)) throw new Inexact(`${path} is -0, which JSON does not keep apart from 0: send 0.`);
    } else if (field.number === 5 && field.wireType === LEN) checkStruct(bytes, field.start, field.end, path);
    else if (field.number === 6 && field.wireType === LEN) checkList(bytes, field.start, field.end, path);
    else if (!((field.number === 1 || field.number === 4) && field.wireType === VARINT) && !(field.number === 3 && field.wireType === LEN)) {
      throw unknownField('Value', field.number, path);
    }
  }
  if (kinds === 0) throw new Inexact(`${path} has no kind set: a value must be null, a number, a string, a bool, a struct or a list.`);
  if (kinds > 1) throw new Inexact(`${path} has ${kinds} kinds set; a value has exactly one.`);
}

function checkList(bytes: Uint8Array, start: number, end: number, path: string): void {
  let index = 0;
  for (const field of fieldsOf(bytes, start, end)) {
    if (field.number !== 1 || field.wireType !== LEN) throw unknownField('ListValue', field.number, path);
    checkValue(bytes, field.start, field.end, `${path}[${index++}]`);
  }
}

function unknownField(type: string, number: number, path: string): Inexact {
  return new Inexact(`The google.protobuf.${type} at ${path} has an unknown field ${number}, which JSON cannot hold.`);
}

/** The fields from `start` to `end`: number, wire type, and where the content of each lies. */
function* fieldsOf(bytes: Uint8Array, start: number, end: number) {
  let pos = start;
  while (pos < end) {
    let tag: number;
    [tag, pos] = varint(bytes, pos);
    const number = Math.floor(tag / 8);
    const wireType = tag % 8;
    if (wireType === LEN) {
      let length: number;
      [length, pos] = varint(bytes, pos);
      yield { number, wireType, start: pos, end: pos + length };
      pos += length;
    } else {
      const contentStart = pos;
      pos = skip(bytes, pos, wireType, number);
      yield { number, wireType, start: contentStart, end: pos };
    }
  }
}

/** Where a field's content that is not length-delimited ends (a group: after its END_GROUP). */
function skip(bytes: Uint8Array, pos: number, wireType: number, number: number): number {
  if (wireType === VARINT) return varint(bytes, pos)[1];
  if (wireType === FIXED64) return pos + 8;
  if (wireType === FIXED32) return pos + 4;
  // START_GROUP (wire-format.ts accepted only closed groups).
  for (;;) {
    let tag: number;
    [tag, pos] = varint(bytes, pos);
    if (tag % 8 === END_GROUP && Math.floor(tag / 8) === number) return pos;
    if (tag % 8 === LEN) {
      const [length, next] = varint(bytes, pos);
      pos = next + length;
    } else pos = skip(bytes, pos, tag % 8, Math.floor(tag / 8));
  }
}

function varint(bytes: Uint8Array, pos: number): [number, number] {
  return readVarint(bytes, pos, bytes.length, 10);
}

function utf8(bytes: Uint8Array, start: number, end: number): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset + start, end - start).toString('utf8');
}

function keyPath(key: string): string {
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(key) && key.length <= KEY_SHOWN_CHARS ? `.${key}` : `[${quoted(key)}]`;
}

function quoted(key: string): string {
  return JSON.stringify(key.length > KEY_SHOWN_CHARS ? `${key.slice(0, KEY_SHOWN_CHARS)}…` : key);
}
