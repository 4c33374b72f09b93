// 6. Invalid uids, everywhere a uid goes (each with otherwise valid, data-changing content).
import { bad, type Case, liveBase } from './cases';
import { UID_METHODS } from './methods';

const INVALID_UIDS: Record<string, string> = {
  empty: '',
  'a space': ' ',
  'inner space': 'a b',
  'a non-ASCII letter': 'ä',
  '101 characters': 'x'.repeat(101),
  'a slash': 'a/b',
  'a dot': 'a.b',
  'a path': '../etc',
  'an emoji': '😀',
  'a NUL': 'a\u0000b',
  'a newline': 'a\nb',
  'a query operator': '$gt',
  'JSON': '{"$ne":null}',
  'a trailing space': 'bi-seed ',
  'dotted capital I (lower-cases to two characters)': 'İ',
  // KELVIN SIGN lower-cases to "k": checked after lower-casing, it would name the user "kelvin".
  'with KELVIN SIGN (lower-cases into ASCII)': '\u212Aelvin',
};
export function invalidUids(): Case[] {
  const cases: Case[] = [];
  for (const method of UID_METHODS) {
    for (const [name, uid] of Object.entries(INVALID_UIDS)) {
      cases.push({
        id: `${method}: uid ${name}`,
        method,
        category: 'invalid uid',
        expected: bad('uid'),
        typed: (c) => ({ ...liveBase(method, c), uid }),
      });
    }
  }
  return cases;
}
