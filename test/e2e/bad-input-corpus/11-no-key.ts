// 11. No key, or an unknown one: UNAUTHENTICATED before anything else, even for undecodable bodies.
import { generateApiKey } from '../../../src/domain/api-keys';
import { tag } from '../../support/wire/protobuf-writer';
import { type Case, liveBase, NO_KEY } from './cases';
import { METHOD_NAMES } from './methods';

export function noKey(): Case[] {
  const cases: Case[] = [];
  for (const method of METHOD_NAMES) {
    for (const [name, authorization] of [
      ['no key', null],
      ['an unknown key', `Bearer ${generateApiKey()}`],
    ] as const) {
      cases.push({
        id: `${method}: ${name}, undecodable body`,
        method,
        category: 'no key',
        expected: NO_KEY,
        authorization,
        bytes: () => Buffer.concat([tag(1, 7), Buffer.from([0xff, 0xff])]),
      });
      cases.push({
        id: `${method}: ${name}, data-changing request`,
        method,
        category: 'no key',
        expected: NO_KEY,
        authorization,
        typed: (c) => liveBase(method, c),
      });
    }
  }
  return cases;
}
