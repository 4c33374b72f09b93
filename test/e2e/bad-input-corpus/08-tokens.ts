// 8. Forged, truncated and wrong-checksum tokens; token ids; tokens of others.
import { bad, type Case, type Ctx, type Expected, KEY, liveBase, TOKEN_NOT_FOUND, UID_NOT_FOUND } from './cases';
import { TOKEN_REF_METHODS } from './methods';

const flipLast = (s: string) => s.slice(0, -1) + (s.endsWith('A') ? 'B' : 'A');
/** Changes one character of the 30 random ones: the checksum no longer matches. */
const flipRandom = (s: string) => {
  const at = s.length - 10;
  return s.slice(0, at) + (s[at] === 'A' ? 'B' : 'A') + s.slice(at + 1);
};
const randomBase62 = (n: number) => Array.from({ length: n }, (_, i) => 'abcXYZ0123456789'[(i * 7) % 16]).join('');
const MALFORMED_REFS: Record<string, (c: Ctx) => string> = {
  'empty': () => '',
  'a bad checksum': () => `cat_bi-seed_${randomBase62(36)}`,
  'the last character changed': (c) => flipLast(c.seedSecret),
  'a random character changed': (c) => flipRandom(c.seedSecret),
  'one character missing': (c) => c.seedSecret.slice(0, -1),
  'one character more': (c) => `${c.seedSecret}x`,
  'in upper case': (c) => c.seedSecret.toUpperCase(),
  'with a leading space': (c) => ` ${c.seedSecret}`,
  'with another prefix': (c) => `cak_${c.seedSecret.slice(4)}`,
  'only the prefix': () => 'cat_',
  'a token_id one character short': (c) => c.seedTokenId.slice(0, -1),
  'a token_id one character long': (c) => `${c.seedTokenId}x`,
  'a token_id with a dash': (c) => `${c.seedTokenId.slice(0, -1)}-`,
  'an API key': () => KEY,
};
const UNKNOWN_REFS: Record<string, [(c: Ctx) => string, Expected]> = {
  'a forged token with a valid checksum': [(c) => c.forgedSeed, TOKEN_NOT_FOUND],
  "a forged token (valid checksum) of a uid that doesn't exist": [(c) => c.forgedGhost, TOKEN_NOT_FOUND],
  'an unknown well-formed token_id': [() => `tid_${randomBase62(22)}`, TOKEN_NOT_FOUND],
  "another user's secret": [(c) => c.otherSecret, TOKEN_NOT_FOUND],
  "another user's token_id": [(c) => c.otherTokenId, TOKEN_NOT_FOUND],
  'an archived secret': [(c) => c.archivedSecret, TOKEN_NOT_FOUND],
  'an archived token_id': [(c) => c.archivedTokenId, TOKEN_NOT_FOUND],
};
/** Tokens sent where a token is named (Get/Update/DeleteAuthToken). */
export function tokenRefs(): Case[] {
  const cases: Case[] = [];
  for (const method of TOKEN_REF_METHODS) {
    for (const [name, ref] of Object.entries(MALFORMED_REFS)) {
      cases.push({
        id: `${method}: auth_token ${name}`,
        method,
        category: 'bad token',
        expected: bad('auth_token'),
        typed: (c) => ({ ...liveBase(method, c), authToken: ref(c) }),
      });
    }
    for (const [name, [ref, expected]] of Object.entries(UNKNOWN_REFS)) {
      cases.push({
        id: `${method}: auth_token ${name}`,
        method,
        category: 'unknown token',
        expected,
        typed: (c) => ({ ...liveBase(method, c), authToken: ref(c) }),
      });
    }
    cases.push({
      id: `${method}: a real token of a uid that does not exist`,
      method,
      category: 'unknown uid',
      expected: UID_NOT_FOUND,
      typed: (c) => ({ ...liveBase(method, c), uid: 'bi-ghost' }),
    });
  }
  return cases;
}

const VALIDATE_UNKNOWN: Record<string, (c: Ctx) => string> = {
  'a forged token with a valid checksum': (c) => c.forgedSeed,
  "a forged token (valid checksum) of a uid that doesn't exist": (c) => c.forgedGhost,
  'an archived secret': (c) => c.archivedSecret,
};
/** Tokens sent to ValidateAuthToken. */
export function validateTokens(): Case[] {
  const cases: Case[] = [];
  for (const [name, ref] of Object.entries(MALFORMED_REFS)) {
    cases.push({
      id: `ValidateAuthToken: auth_token ${name}`,
      method: 'ValidateAuthToken',
      category: 'bad token',
      expected: bad('auth_token'),
      typed: (c) => ({ ...liveBase('ValidateAuthToken', c), authToken: ref(c) }),
    });
  }
  for (const [name, ref] of Object.entries(VALIDATE_UNKNOWN)) {
    cases.push({
      id: `ValidateAuthToken: auth_token ${name}`,
      method: 'ValidateAuthToken',
      category: 'unknown token',
      expected: TOKEN_NOT_FOUND,
      typed: (c) => ({ ...liveBase('ValidateAuthToken', c), authToken: ref(c) }),
    });
  }
  cases.push({
    id: 'ValidateAuthToken: a token_id instead of the secret',
    method: 'ValidateAuthToken',
    category: 'bad token',
    expected: bad('auth_token'),
    typed: (c) => ({ authToken: c.seedTokenId }),
  });
  return cases;
}
