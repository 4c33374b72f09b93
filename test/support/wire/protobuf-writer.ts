// The protobuf wire format, written by hand. Generated encoders only write well-formed messages;
// tests that send malformed ones (wrong wire types, illegal field numbers, lengths that lie,
// truncated varints, invalid UTF-8) need to put every byte where they choose, so they build the
// message from these pieces instead.
// Reference: https://protobuf.dev/programming-guides/encoding/

/** Wire types: the low 3 bits of a tag. 6 and 7 are not defined (and a strict parser rejects them). */
export const WIRE = { VARINT: 0, I64: 1, LEN: 2, SGROUP: 3, EGROUP: 4, I32: 5 } as const;

/** A base-128 varint; negative numbers as their 64-bit two's complement, as protobuf does. */
export function varint(value: number | bigint): Buffer {
  let v = BigInt.asUintN(64, BigInt(value));
  const out: number[] = [];
  do {
    let byte = Number(v & 0x7fn);
    v >>= 7n;
    if (v) byte |= 0x80;
    out.push(byte);
  } while (v);
  return Buffer.from(out);
}

/** A tag: field number and wire type, not checked (field 0 and 2^29 are legal arguments here). */
export const tag = (field: number, wireType: number) => varint((BigInt(field) << 3n) | BigInt(wireType));

const bytesOf = (value: Buffer | string) => (Buffer.isBuffer(value) ? value : Buffer.from(value, 'utf8'));

/** A length-delimited field (string, bytes, message); strings as UTF-8, Buffers as they are. */
export const lenField = (field: number, value: Buffer | string) =>
  Buffer.concat([tag(field, WIRE.LEN), varint(bytesOf(value).length), bytesOf(value)]);

export const varintField = (field: number, value: number | bigint) => Buffer.concat([tag(field, WIRE.VARINT), varint(value)]);

/** A fixed32 field holding the bytes 01 02 03 04. */
export const i32Field = (field: number) => Buffer.concat([tag(field, WIRE.I32), Buffer.from([1, 2, 3, 4])]);

/** A fixed64 field holding the bytes 01 02 .. 08. */
export const i64Field = (field: number) => Buffer.concat([tag(field, WIRE.I64), Buffer.from([1, 2, 3, 4, 5, 6, 7, 8])]);

/** A double field (wire type I64, little-endian IEEE 754). */
export function doubleField(field: number, value: number): Buffer {
  const bytes = Buffer.alloc(8);
  bytes.writeDoubleLE(value);
  return Buffer.concat([tag(field, WIRE.I64), bytes]);
}

/** A (deprecated) group: start-group tag, `inner`, end-group tag of the same field. */
export const groupField = (field: number, inner = varintField(1, 1)) =>
  Buffer.concat([tag(field, WIRE.SGROUP), inner, tag(field, WIRE.EGROUP)]);
