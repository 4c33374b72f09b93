// A TokenStore whose validation lookups go through the ValidationCache, and whose writes drop
// their user's cached tokens before they return, so this replica never serves what it just
// revoked. A revoking write that committed (committed-writes.ts) returns only once the change
// feed has delivered its change: other replicas' feeds have it at about the same moment.
//
// The feed has dropped the user's entries by then, and the write drops them once more, on
// purpose: the drops after each write keep fewer tokens cached in the moments around a
// revocation, which narrows the window in which another replica, whose feed has not yet delivered
// it, still accepts the token (README, Operations). Without the second drop (tried), the 10,000-
// create fault test saw such an accept in 2 runs of 2; with it, in 1 run of 8.
import type { TokenStore } from '../../domain/token-store';
import type { CacheLookupResult } from '../../domain/token-activity';
import type { Committed, CommittingTokenStore } from '../committed-writes';
import type { UserChangeFeed } from './user-change-feed';
import type { ValidationCache } from './validation-cache';

export function cachingValidations(
  store: CommittingTokenStore,
  cache: ValidationCache,
  feed: Pick<UserChangeFeed, 'delivered'>,
  observe: (result: CacheLookupResult) => void = () => undefined,
): TokenStore {
  /** Runs a write, then drops the user's entries whatever its outcome (it may have applied). */
  const invalidating =
    <A extends [string, ...unknown[]], R>(write: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      try {
        return await write(...args);
      } finally {
        cache.invalidate(args[0]);
      }
    };
  /** Runs a revoking write; once it has committed, returns when the feed has delivered it (see above). */
  const revoking =
    <A extends unknown[], R>(write: (...args: A) => Promise<Committed<R>>, uidOf: (args: A) => string) =>
    async (...args: A): Promise<R> => {
      try {
        const { result, committedAt } = await write(...args);
        if (committedAt) await feed.delivered(committedAt);
        return result;
      } finally {
        cache.invalidate(uidOf(args));
      }
    };
  const firstArg = <A extends [string, ...unknown[]]>(args: A) => args[0];
  return {
    createUser: store.createUser.bind(store),
    getUser: store.getUser.bind(store),
    deleteUser: revoking(store.deleteUser.bind(store), firstArg),
    issueToken: revoking(store.issueToken.bind(store), ([token]) => token.uid),
    listTokens: store.listTokens.bind(store),
    getToken: store.getToken.bind(store),
    updateToken: invalidating(store.updateToken.bind(store)),
    deleteToken: revoking(store.deleteToken.bind(store), firstArg),
    flushTokens: revoking(store.flushTokens.bind(store), firstArg),
    revokeTokens: revoking(store.revokeTokens.bind(store), firstArg),
    usersWithExpiredTokens: store.usersWithExpiredTokens.bind(store),
    expireTokens: revoking(store.expireTokens.bind(store), firstArg),
    recordTokenUse: invalidating(store.recordTokenUse.bind(store)),
    listArchivedTokens: store.listArchivedTokens.bind(store),
    async findActiveToken(uid, tokenHash, deadline) {
      const { found, result } = await cache.lookup(uid, tokenHash, () => store.findActiveToken(uid, tokenHash, deadline));
      observe(result);
      return found;
    },
  };
}
