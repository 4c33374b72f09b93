// 7b. Struct content the decoder would not read exactly as sent: each would be dropped, merged
// or turned into something else, so each is refused, naming the field (the size limit is then
// measured on everything that was sent).
import { lenField, varintField } from '../../support/wire/protobuf-writer';
import { entry, value } from '../../support/wire/struct-writer';
import { bad, type Case, liveBase, without } from './cases';
import { METHOD_NAMES, STRUCT_FIELDS } from './methods';

const INEXACT_STRUCTS: Record<string, () => Buffer> = {
  'a "__proto__" key': () => entry('__proto__', value.number(1)),
  'a "__proto__" key in a nested struct': () => entry('a', value.struct(entry('__proto__', value.string('x')))),
  'a "__proto__" key in a struct in a list': () => entry('a', value.list(value.struct(entry('__proto__', value.number(1))))),
  'NaN': () => entry('n', value.number(NaN)),
  'Infinity': () => entry('n', value.number(Infinity)),
  '-Infinity in a list': () => entry('n', value.list(value.number(1), value.number(-Infinity))),
  '-0': () => entry('n', value.number(-0)),
  'a value with no kind set': () => entry('a', value.none()),
  'an entry with no value': () => lenField(1, lenField(1, 'a')),
  // Measured after dropping them, these 4,000 entries (~40 KB) used to weigh 2 bytes of JSON.
  '4,000 values with no kind set': () => Buffer.concat(Array.from({ length: 4000 }, (_, i) => entry(`k${i}`, value.none()))),
  'a value with two kinds': () => entry('a', Buffer.concat([value.string('x'), value.number(1)])),
  'a value with its kind twice': () => entry('a', Buffer.concat([value.string('x'), value.string('y')])),
  'a key twice': () => Buffer.concat([entry('a', value.number(1)), entry('a', value.number(2))]),
  'an unknown field in a Value': () => entry('a', Buffer.concat([value.string('x'), varintField(9, 1)])),
  'an unknown field in the Struct': () => Buffer.concat([entry('a', value.number(1)), varintField(2, 1)]),
  'an unknown field in a ListValue': () => entry('a', lenField(6, Buffer.concat([lenField(1, value.number(1)), varintField(2, 1)]))),
};
export function inexactStructs(): Case[] {
  const cases: Case[] = [];
  for (const method of METHOD_NAMES) {
    const struct = STRUCT_FIELDS[method];
    if (!struct) continue;
    const [field, number] = struct;
    const protoName = field === 'appInfo' ? 'app_info' : field;
    for (const [name, content] of Object.entries(INEXACT_STRUCTS)) {
      cases.push({
        id: `${method}: ${protoName} with ${name}`,
        method,
        category: 'inexact struct',
        expected: bad(protoName),
        bytes: (c) => without(method, liveBase(method, c), field, lenField(number, content())),
      });
    }
    cases.push({
      id: `${method}: ${protoName} sent twice, with the same key in both (they would merge)`,
      method,
      category: 'inexact struct',
      expected: bad(protoName),
      bytes: (c) =>
        without(method, liveBase(method, c), field, lenField(number, entry('a', value.number(1))), lenField(number, entry('a', value.number(2)))),
    });
  }
  return cases;
}
