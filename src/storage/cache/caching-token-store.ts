// A TokenStore whose validation lookups go through the ValidationCache, and whose writes drop
// their user's cached tokens before they return, so this replica never serves what it just revoked
// (a recorded last use updates its token's entry instead).
import type { TokenStore } from '../../domain/token-store';
import type { CacheLookupResult } from '../../domain/token-events';
import type { ValidationCache } from './validation-cache';

export function cachingValidations(
  store: TokenStore,
  cache: ValidationCache,
  observe: (result: CacheLookupResult) => void = () => undefined,
): TokenStore {
  /** Runs a write, then drops the user's entries whatever its outcome (it may have applied). */
  const invalidating =
    <A extends [unknown, ...unknown[]], R>(write: (...args: A) => Promise<R>, uidOf = (args: A) => args[0] as string) =>
    async (...args: A): Promise<R> => {
      try {
        return await write(...args);
      } finally {
        cache.invalidate(uidOf(args));
      }
    };
  return {
    createUser: store.createUser.bind(store),
    getUser: store.getUser.bind(store),
    deleteUser: invalidating(store.deleteUser.bind(store)),
    issueToken: invalidating(store.issueToken.bind(store), ([token]) => token.uid),
    listTokens: store.listTokens.bind(store),
    getToken: store.getToken.bind(store),
    updateToken: invalidating(store.updateToken.bind(store)),
    deleteToken: invalidating(store.deleteToken.bind(store)),
    flushTokens: invalidating(store.flushTokens.bind(store)),
    async recordTokenUse(uid, tokenId, changes, now, usedAfter, deadline) {
      let recorded: boolean | undefined;
      try {
        recorded = await store.recordTokenUse(uid, tokenId, changes, now, usedAfter, deadline);
        return recorded;
      } finally {
        // Only the time changed: the cached token takes it (and the change feed leaves the user's
        // entries be, user-change-feed.ts). Refused: another replica recorded a later use, so
        // this entry's time is stale. A device change, or a failure: as any other write.
        if (recorded && Object.keys(changes).length === 0) cache.usedAt(uid, tokenId, now);
        else if (recorded === false) cache.forgetToken(uid, tokenId);
        else cache.invalidate(uid);
      }
    },
    listArchivedTokens: store.listArchivedTokens.bind(store),
    async findActiveToken(uid, tokenHash, deadline) {
      const { found, result } = await cache.lookup(uid, tokenHash, () => store.findActiveToken(uid, tokenHash, deadline));
      observe(result);
      return found;
    },
  };
}
