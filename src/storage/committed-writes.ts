// What MongoTokenStore's revoking writes (the updates that may archive tokens) return besides
// their result: the cluster time at which they applied. The validation cache in front of the
// store (cache/caching-token-store.ts) waits for its change feed to deliver exactly that change;
// without a cache, `plainTokenStore` drops it. So the store itself knows nothing of any cache.
import type { Timestamp } from 'mongodb';
import type { TokenStore } from '../domain/token-store';

export type RevokingWrite = 'deleteUser' | 'issueToken' | 'deleteToken' | 'flushTokens' | 'revokeTokens' | 'expireTokens';

export interface Committed<T> {
  readonly result: T;
  /** When the change to the user document committed; undefined if nothing was revoked. */
  readonly committedAt: Timestamp | undefined;
}

type Committing<F> = F extends (...args: infer A) => Promise<infer R> ? (...args: A) => Promise<Committed<R>> : never;

/** A TokenStore whose revoking writes say when they committed. */
export type CommittingTokenStore = Omit<TokenStore, RevokingWrite> & { [K in RevokingWrite]: Committing<TokenStore[K]> };

/** The store as the use cases see it, when no cache waits for commits. */
export function plainTokenStore(store: CommittingTokenStore): TokenStore {
  return {
    createUser: store.createUser.bind(store),
    getUser: store.getUser.bind(store),
    deleteUser: async (...args) => (await store.deleteUser(...args)).result,
    issueToken: async (...args) => (await store.issueToken(...args)).result,
    listTokens: store.listTokens.bind(store),
    getToken: store.getToken.bind(store),
    updateToken: store.updateToken.bind(store),
    deleteToken: async (...args) => (await store.deleteToken(...args)).result,
    flushTokens: async (...args) => (await store.flushTokens(...args)).result,
    revokeTokens: async (...args) => (await store.revokeTokens(...args)).result,
    usersWithExpiredTokens: store.usersWithExpiredTokens.bind(store),
    expireTokens: async (...args) => (await store.expireTokens(...args)).result,
    findActiveToken: store.findActiveToken.bind(store),
    recordTokenUse: store.recordTokenUse.bind(store),
    listArchivedTokens: store.listArchivedTokens.bind(store),
  };
}
