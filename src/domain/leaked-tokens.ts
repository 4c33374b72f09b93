// RevokeAuthTokens: secrets of any users, found where they should not be (a secret scanner's
// report), revoked in one call. Each secret gets its own answer, in request order, and none says
// whose token it was: a caller learns nothing it did not send.
import type { Deadline } from './deadline';
import { badRequest } from './errors';
import { REVOKE_MAX_TOKENS } from './rules';
import type { TokenActivity } from './token-activity';
import { parseToken } from './token-format';
import type { TokenStore } from './token-store';

export type RevocationResult = 'REVOKED' | 'NOT_FOUND' | 'MALFORMED';

/** Users revoked at once: enough to overlap round trips, few enough not to crowd other calls. */
const USERS_AT_ONCE = 8;

export async function revokeLeakedTokens(
  store: TokenStore,
  secrets: readonly string[],
  now: Date,
  deadline: Deadline,
  events: TokenActivity,
): Promise<RevocationResult[]> {
  if (secrets.length === 0 || secrets.length > REVOKE_MAX_TOKENS) {
    throw badRequest([{ field: 'auth_tokens', description: `Between 1 and ${REVOKE_MAX_TOKENS} auth tokens.` }]);
  }
  const parsed = secrets.map(parseToken);
  const hashesByUid = new Map<string, Buffer[]>();
  for (const token of parsed) {
    if (!token) continue;
    const hashes = hashesByUid.get(token.uid);
    if (hashes) hashes.push(token.tokenHash);
    else hashesByUid.set(token.uid, [token.tokenHash]);
  }
  const revoked = new Set<string>();
  const uids = [...hashesByUid.keys()];
  const revokeNext = async (): Promise<void> => {
    for (let uid = uids.pop(); uid !== undefined; uid = uids.pop()) {
      for (const hash of await store.revokeTokens(uid, hashesByUid.get(uid)!, now, deadline)) revoked.add(hash.toString('base64'));
    }
  };
  await Promise.all(Array.from({ length: Math.min(USERS_AT_ONCE, uids.length) }, revokeNext));
  events.archived('LEAKED', revoked.size);
  return parsed.map((token) => (!token ? 'MALFORMED' : revoked.has(token.tokenHash.toString('base64')) ? 'REVOKED' : 'NOT_FOUND'));
}
