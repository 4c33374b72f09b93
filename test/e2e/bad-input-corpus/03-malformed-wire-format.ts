// 3. Broken wire format, appended to an otherwise valid request that changes nothing. A strict
// parser (protobuf C++, Go's protowire) rejects every one of these. (The generated ts-proto
// decoders stop at a tag 0 or an END_GROUP, skip groups without matching their end, skip varints of
// any length and let a nested message read past its declared length: those cases fail today.)
import { lenField, tag, varint, varintField, WIRE } from '../../support/wire/protobuf-writer';
import { structBytes } from '../../support/wire/struct-writer';
import { type Case, liveBase, safeBase, UNDECODABLE, without } from './cases';
import { encode, METHOD_NAMES, STRUCT_FIELDS } from './methods';

const MALFORMED: Record<string, Buffer> = {
  'wire type 6': Buffer.concat([tag(20, 6), Buffer.from([1, 2, 3])]),
  'wire type 7': Buffer.concat([tag(1, 7), Buffer.from([1, 2, 3])]),
  'a group that never ends': Buffer.concat([tag(20, WIRE.SGROUP), varintField(1, 1)]),
  'a group ended by another field number': Buffer.concat([tag(20, WIRE.SGROUP), varintField(1, 1), tag(21, WIRE.EGROUP)]),
  'a tag and nothing more': tag(20, WIRE.LEN),
  'a truncated length varint': Buffer.concat([tag(20, WIRE.LEN), Buffer.from([0x80])]),
  'a length beyond the payload': Buffer.concat([tag(20, WIRE.LEN), varint(16), Buffer.from('abc')]),
  'a length of 2^32-1': Buffer.concat([tag(20, WIRE.LEN), varint(0xffffffff), Buffer.from('abc')]),
  'a truncated tag varint': Buffer.from([0x80]),
  'a truncated value varint': Buffer.concat([tag(20, WIRE.VARINT), Buffer.from([0xff, 0xff])]),
  'a truncated 64-bit value': Buffer.concat([tag(20, WIRE.I64), Buffer.from([1, 2, 3])]),
  'an 11-byte varint': Buffer.concat([tag(20, WIRE.VARINT), Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01])]),
  // Field number 0 is illegal (protobuf's smallest is 1); strict parsers reject the message.
  'field number 0 (varint), then garbage': Buffer.concat([Buffer.from([0x00]), Buffer.from([0xff, 0xff, 0xff])]),
  'field number 0 (length-delimited)': Buffer.concat([tag(0, WIRE.LEN), varint(3), Buffer.from('abc')]),
  // Field numbers stop at 2^29-1.
  'field number 2^29': Buffer.concat([tag(2 ** 29, WIRE.VARINT), varint(1)]),
  // An END_GROUP that closes nothing.
  'a stray end-group tag, then garbage': Buffer.concat([tag(1, WIRE.EGROUP), Buffer.from([0xff, 0xff, 0xff])]),
};
/** Also the Struct-specific ones: declared lengths that lie, and nesting beyond the recursion limit. */
export function malformedWireFormat(): Case[] {
  const cases: Case[] = [];
  for (const method of METHOD_NAMES) {
    for (const [name, defect] of Object.entries(MALFORMED)) {
      cases.push({
        id: `${method}: valid request followed by ${name}`,
        method,
        category: 'malformed wire format',
        expected: UNDECODABLE,
        bytes: (c) => Buffer.concat([encode(method, safeBase(method, c)), defect]),
      });
    }
    cases.push({
      id: `${method}: valid request cut short by one byte`,
      method,
      category: 'malformed wire format',
      expected: UNDECODABLE,
      bytes: (c) => {
        const full = encode(method, safeBase(method, c));
        return full.subarray(0, full.length - 1);
      },
    });
    const struct = STRUCT_FIELDS[method];
    if (struct) {
      const [field, number] = struct;
      const inner = structBytes('key', 'value-value');
      cases.push({
        id: `${method}: ${field} declared longer than the message`,
        method,
        category: 'malformed wire format',
        expected: UNDECODABLE,
        bytes: (c) => without(method, safeBase(method, c), field, tag(number, WIRE.LEN), varint(inner.length + 5), inner),
      });
      cases.push({
        // The Struct's entry runs past the Struct's own declared end: a strict parser fails there.
        id: `${method}: ${field} whose content runs past its declared length`,
        method,
        category: 'malformed wire format',
        expected: UNDECODABLE,
        bytes: (c) => without(method, safeBase(method, c), field, tag(number, WIRE.LEN), varint(2), inner),
      });
      cases.push({
        id: `${method}: ${field} nested 200 levels deep (beyond the decoder's recursion limit)`,
        method,
        category: 'huge struct',
        expected: UNDECODABLE,
        bytes: (c) => {
          let nested = structBytes('leaf', 'x');
          for (let i = 0; i < 200; i++) nested = lenField(1, Buffer.concat([lenField(1, 'k'), lenField(2, lenField(5, nested))]));
          return without(method, liveBase(method, c), field, lenField(number, nested));
        },
      });
    }
  }
  return cases;
}
