// deploy/mongodb/shard.js must shard the collections the code uses, by the keys every query of the
// service names (test/e2e/explain.test.ts checks the queries' shapes against these keys).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { ARCHIVED_TOKENS, USERS } from '../../src/storage/documents';

const script = readFileSync(join(__dirname, '../../deploy/mongodb/shard.js'), 'utf8');

test('shard.js shards users by _id and archived_tokens by uid then _id, with an index for that key', () => {
  const sharded = [...script.matchAll(/sh\.shardCollection\(`\$\{name\}\.(\w+)`, (\{[^}]*\})\)/g)].map(([, collection, key]) => [
    collection,
    key,
  ]);
  expect(sharded).toEqual([
    [USERS, '{ _id: 1 }'],
    [ARCHIVED_TOKENS, '{ uid: 1, _id: 1 }'],
  ]);
  expect(script).toContain(`target.${ARCHIVED_TOKENS}.createIndex({ uid: 1, _id: 1 }`);
});
