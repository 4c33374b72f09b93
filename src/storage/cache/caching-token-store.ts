// A TokenStore whose validation lookups go through the ValidationCache, and whose writes leave
// this replica's cache without what they revoked or changed before they return, so it never serves
// what it just revoked:
// - a revoking write that committed returns once the change feed has delivered its change, which
//   dropped its user's entries here (and on every other replica at about the same moment);
// - any other write that changes tokens drops its user's entries itself, as does a write that
//   failed (it may still have applied), or whose change the feed did not deliver in time.
import type { TokenStore } from '../../domain/token-store';
import type { CacheLookupResult } from '../../domain/token-events';
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
  /** Runs a revoking write; returns once its change has reached the cache (see above). */
  const revoking =
    <A extends unknown[], R>(write: (...args: A) => Promise<Committed<R>>, uidOf: (args: A) => string) =>
    async (...args: A): Promise<R> => {
      let committed: Committed<R>;
      try {
        committed = await write(...args);
      } catch (error) {
        cache.invalidate(uidOf(args));
        throw error;
      }
      if (committed.committedAt && !(await feed.delivered(committed.committedAt))) cache.invalidate(uidOf(args));
      return committed.result;
    };
  const firstArg = <A extends [string, ...unknown[]]>(args: A) => args[0];
  return {
    createUser: store.createUser.bind(store),
    getUser: store.getUser.bind(store),
    deleteUser: revoking(store.deleteUser.bind(store), firstArg),
    // Below the cap, an issue revokes nothing (committedAt is undefined): no entry is stale.
    issueToken: revoking(store.issueToken.bind(store), ([token]) => token.uid),
    listTokens: store.listTokens.bind(store),
    getToken: store.getToken.bind(store),
    updateToken: invalidating(store.updateToken.bind(store)),
    deleteToken: revoking(store.deleteToken.bind(store), firstArg),
    flushTokens: revoking(store.flushTokens.bind(store), firstArg),
    recordTokenUse: invalidating(store.recordTokenUse.bind(store)),
    listArchivedTokens: store.listArchivedTokens.bind(store),
    async findActiveToken(uid, tokenHash, deadline) {
      const { found, result } = await cache.lookup(uid, tokenHash, () => store.findActiveToken(uid, tokenHash, deadline));
      observe(result);
      return found;
    },
  };
}
