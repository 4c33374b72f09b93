// 7. Field rules: names, short texts, JSON objects, page sizes and tokens, masks.
import { bad, type Case, type Ctx, type Expected } from './cases';
import type { Method, Request } from './methods';

const bigObject = (bytes: number) => ({ blob: 'x'.repeat(bytes) });
const manyKeys = () => Object.fromEntries(Array.from({ length: 2_000 }, (_, i) => [`k${i}`, i]));
const FIELD_RULES: [Method, string, (c: Ctx) => Request, Expected][] = [
  ['CreateUser', 'name empty', () => ({ uid: 'bi-new' }), bad('name')],
  ['CreateUser', 'name blank', () => ({ uid: 'bi-new', name: '   ' }), bad('name')],
  ['CreateUser', 'name of 101 characters', () => ({ uid: 'bi-new', name: 'n'.repeat(101) }), bad('name')],
  ['CreateUser', 'name of 101 emoji', () => ({ uid: 'bi-new', name: '😀'.repeat(101) }), bad('name')],
  ['CreateUser', 'metadata over 5 KB', () => ({ uid: 'bi-new', name: 'N', metadata: bigObject(6000) }), bad('metadata')],
  ['CreateUser', 'metadata with 2,000 keys', () => ({ uid: 'bi-new', name: 'N', metadata: manyKeys() }), bad('metadata')],
  ['CreateUser', 'every field invalid at once', () => ({ uid: 'Not a uid!', name: '', metadata: bigObject(6000) }), bad('uid', 'name', 'metadata')],
  ['CreateAuthToken', 'platform of 256 characters', () => ({ uid: 'bi-seed', platform: 'p'.repeat(256) }), bad('platform')],
  ['CreateAuthToken', 'device_id of 256 characters', () => ({ uid: 'bi-seed', deviceId: 'd'.repeat(256) }), bad('device_id')],
  ['CreateAuthToken', 'user_agent of 256 characters', () => ({ uid: 'bi-seed', userAgent: 'u'.repeat(256) }), bad('user_agent')],
  ['CreateAuthToken', 'user_agent of 256 emoji', () => ({ uid: 'bi-seed', userAgent: '😀'.repeat(256) }), bad('user_agent')],
  ['CreateAuthToken', 'app_info over 5 KB', () => ({ uid: 'bi-seed', appInfo: bigObject(6000) }), bad('app_info')],
  ['CreateAuthToken', 'app_info with 2,000 keys', () => ({ uid: 'bi-seed', appInfo: manyKeys() }), bad('app_info')],
  ['CreateAuthToken', 'every field invalid at once', () => ({ uid: '', platform: 'p'.repeat(256), deviceId: 'd'.repeat(256), userAgent: 'u'.repeat(256), appInfo: bigObject(6000) }), bad('uid', 'platform', 'device_id', 'user_agent', 'app_info')],
  ['ListAuthTokens', 'page_size -1', () => ({ uid: 'bi-seed', pageSize: -1 }), bad('page_size')],
  ['ListAuthTokens', 'page_size -2^31', () => ({ uid: 'bi-seed', pageSize: -2147483648 }), bad('page_size')],
  ['ListAuthTokens', 'page_token garbage', () => ({ uid: 'bi-seed', pageToken: 'garbage' }), bad('page_token')],
  ['ListAuthTokens', 'page_token not base64', () => ({ uid: 'bi-seed', pageToken: '!!!***' }), bad('page_token')],
  ['ListAuthTokens', 'page_token of another uid', (c) => ({ uid: 'bi-other', pageToken: c.tokensPageToken }), bad('page_token')],
  ['ListAuthTokens', 'page_token of the archive listing', (c) => ({ uid: 'bi-seed', pageToken: c.archivePageToken }), bad('page_token')],
  ['ListAuthTokens', 'page_token with a time that is not an integer', () => ({ uid: 'bi-seed', pageToken: pageToken({ v: 1, l: 'tokens', u: 'bi-seed', t: 1.5, i: 'tid_x' }) }), bad('page_token')],
  ['ListAuthTokens', 'page_token with an object id', () => ({ uid: 'bi-seed', pageToken: pageToken({ v: 1, l: 'tokens', u: 'bi-seed', t: 1, i: { $gt: '' } }) }), bad('page_token')],
  ['ListAuthTokens', 'page_token of version 2', () => ({ uid: 'bi-seed', pageToken: pageToken({ v: 2, l: 'tokens', u: 'bi-seed', t: 1, i: 'tid_x' }) }), bad('page_token')],
  ['ListArchivedAuthTokens', 'page_size -1', () => ({ uid: 'bi-seed', pageSize: -1 }), bad('page_size')],
  ['ListArchivedAuthTokens', 'page_token garbage', () => ({ uid: 'bi-seed', pageToken: 'garbage' }), bad('page_token')],
  ['ListArchivedAuthTokens', 'page_token of the tokens listing', (c) => ({ uid: 'bi-seed', pageToken: c.tokensPageToken }), bad('page_token')],
  ['ListArchivedAuthTokens', 'page_token of another uid', (c) => ({ uid: 'bi-other', pageToken: c.archivePageToken }), bad('page_token')],
  ['ListArchivedAuthTokens', 'page_token with an id of 65 characters', () => ({ uid: 'bi-seed', pageToken: pageToken({ v: 1, l: 'archive', u: 'bi-seed', t: 1, i: 'i'.repeat(65) }) }), bad('page_token')],
  ['UpdateAuthToken', 'update_mask path uid', (c) => ({ uid: 'bi-seed', authToken: c.seedTokenId, updateMask: ['uid'] }), bad('update_mask')],
  ['UpdateAuthToken', 'update_mask path token_id', (c) => ({ uid: 'bi-seed', authToken: c.seedTokenId, updateMask: ['token_id'] }), bad('update_mask')],
  ['UpdateAuthToken', 'update_mask path device_id', (c) => ({ uid: 'bi-seed', authToken: c.seedTokenId, deviceId: 'x', updateMask: ['device_id'] }), bad('update_mask')],
  ['UpdateAuthToken', 'update_mask path in camelCase', (c) => ({ uid: 'bi-seed', authToken: c.seedTokenId, userAgent: 'x', updateMask: ['userAgent'] }), bad('update_mask')],
  ['UpdateAuthToken', 'update_mask with a valid and an unknown path', (c) => ({ uid: 'bi-seed', authToken: c.seedTokenId, platform: 'x', updateMask: ['platform', 'hash'] }), bad('update_mask')],
  ['UpdateAuthToken', 'update_mask path tokens.$', (c) => ({ uid: 'bi-seed', authToken: c.seedTokenId, updateMask: ['tokens.$'] }), bad('update_mask')],
  ['UpdateAuthToken', 'platform of 256 characters', (c) => ({ uid: 'bi-seed', authToken: c.seedTokenId, platform: 'p'.repeat(256) }), bad('platform')],
  ['UpdateAuthToken', 'user_agent of 256 characters', (c) => ({ uid: 'bi-seed', authToken: c.seedTokenId, userAgent: 'u'.repeat(256) }), bad('user_agent')],
  ['UpdateAuthToken', 'app_info over 5 KB', (c) => ({ uid: 'bi-seed', authToken: c.seedTokenId, appInfo: bigObject(6000) }), bad('app_info')],
  ['ValidateAuthToken', 'platform of 256 characters', (c) => ({ authToken: c.seedSecret, platform: 'p'.repeat(256) }), bad('platform')],
  ['ValidateAuthToken', 'device_id of 256 characters', (c) => ({ authToken: c.seedSecret, deviceId: 'd'.repeat(256) }), bad('device_id')],
  ['ValidateAuthToken', 'user_agent of 256 characters', (c) => ({ authToken: c.seedSecret, userAgent: 'u'.repeat(256) }), bad('user_agent')],
  ['ValidateAuthToken', 'app_info over 5 KB', (c) => ({ authToken: c.seedSecret, appInfo: bigObject(6000) }), bad('app_info')],
  ['ValidateAuthToken', 'app_info with 2,000 keys', (c) => ({ authToken: c.seedSecret, appInfo: manyKeys() }), bad('app_info')],
];
export function fieldRules(): Case[] {
  const cases: Case[] = [];
  for (const [method, name, typed, expected] of FIELD_RULES) {
    cases.push({ id: `${method}: ${name}`, method, category: 'field rules', expected, typed });
  }
  return cases;
}

function pageToken(body: object): string {
  return Buffer.from(JSON.stringify(body), 'utf8').toString('base64url');
}
