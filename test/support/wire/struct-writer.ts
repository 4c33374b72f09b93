// google.protobuf.Struct and Value, written by hand on top of protobuf-writer.ts. The generated
// encoder turns a JSON object into a Struct and can only write what JSON can say; tests of how the
// service reads a Struct also need what JSON cannot (a value with no kind or two kinds, a key
// twice, NaN, -0, unknown fields inside a Value, invalid UTF-8 in a key).
// Reference: google/protobuf/struct.proto (Struct.fields = 1; Value kinds 1-6; ListValue.values = 1).
import { doubleField, lenField } from './protobuf-writer';

/** One Struct entry (field 1 of google.protobuf.Struct): a key and the Value's encoded `content`. */
export const entry = (key: string, content: Buffer) => lenField(1, Buffer.concat([lenField(1, key), lenField(2, content)]));

/** A Struct holding one entry, key and string value given as raw bytes (so either may be invalid UTF-8). */
export const structBytes = (key: Buffer | string, value: Buffer | string) =>
  lenField(1, Buffer.concat([lenField(1, key), lenField(2, lenField(3, value))]));

/** google.protobuf.Value encodings; `none` sets no kind at all. */
export const value = {
  number: (n: number) => doubleField(2, n),
  string: (text: string) => lenField(3, text),
  struct: (...entries: Buffer[]) => lenField(5, Buffer.concat(entries)),
  list: (...values: Buffer[]) => lenField(6, Buffer.concat(values.map((v) => lenField(1, v)))),
  none: () => Buffer.alloc(0),
};
