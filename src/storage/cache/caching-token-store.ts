// A TokenStore whose validation lookups go through the ValidationCache, and whose writes drop
// their user's cached tokens before they return, so this replica never serves what it just revoked.
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
    recordTokenUse: invalidating(store.recordTokenUse.bind(store)),
    listArchivedTokens: store.listArchivedTokens.bind(store),
    async findActiveToken(uid, tokenHash, deadline) {
      const { found, result } = await cache.lookup(uid, tokenHash, () => store.findActiveToken(uid, tokenHash, deadline));
      observe(result);
      return found;
    },
  };
}
