// authtoken.v1.AuthTokenService: translation between proto messages and the AuthTokens use cases.
import type { AuthTokens } from '../domain/auth-tokens';
import { AuthTokenServiceService, RevocationResult } from '../../gen/authtoken/v1/auth_token_service';
import type { RevocationResult as DomainRevocationResult } from '../domain/leaked-tokens';
import { EncodedOnce } from './encoded-responses';
import { archivedAuthTokenMessage, authTokenMessage, userMessage } from './messages';
import type { CallHooks } from './call-hooks';
import { type EventWatches, watchAuthTokenEvents } from './event-watch';
import { implement } from './unary';

const REVOCATION_RESULTS: Record<DomainRevocationResult, RevocationResult> = {
  REVOKED: RevocationResult.REVOCATION_RESULT_REVOKED,
  NOT_FOUND: RevocationResult.REVOCATION_RESULT_NOT_FOUND,
  MALFORMED: RevocationResult.REVOCATION_RESULT_MALFORMED,
};

export function authTokenService(tokens: AuthTokens, events: EventWatches, hooks: CallHooks) {
  // By token record and user record: a cache hit returns both unchanged; a recorded use, a new token.
  const validations = new EncodedOnce(AuthTokenServiceService.validateAuthToken.responseSerialize);
  const unary = implement(
    AuthTokenServiceService,
    {
      createAuthToken: async (request, { deadline }) => {
        const { authToken, secret, evictedTokenIds, replacedTokenIds } = await tokens.create(request, deadline);
        return { authToken: authTokenMessage(authToken, secret), evictedTokenIds, replacedTokenIds };
      },
      listAuthTokens: async (request, { deadline }) => {
        const { items, nextPageToken, totalSize } = await tokens.list(request, deadline);
        return { authTokens: items.map((t) => authTokenMessage(t)), nextPageToken, totalSize };
      },
      getAuthToken: async (request, { deadline }) => authTokenMessage(await tokens.get(request, deadline)),
      updateAuthToken: async (request, { deadline }) =>
        authTokenMessage(await tokens.update(request, deadline)),
      deleteAuthToken: async (request, { deadline }) => ({
        archivedAuthToken: archivedAuthTokenMessage(await tokens.delete(request, deadline)),
      }),
      flushAuthTokens: async (request, { deadline }) => ({ deletedCount: await tokens.flush(request, deadline) }),
      validateAuthToken: async (request, { deadline }) => {
        const { uid, authToken, user } = await tokens.validate(request, deadline);
        return validations.of(authToken, user, () => ({ uid, authToken: authTokenMessage(authToken), user: userMessage(user) }));
      },
      listArchivedAuthTokens: async (request, { deadline }) => {
        const { items, nextPageToken } = await tokens.listArchived(request, deadline);
        return { archivedAuthTokens: items.map(archivedAuthTokenMessage), nextPageToken };
      },
      revokeAuthTokens: async (request, { deadline }) => ({
        results: (await tokens.revokeLeaked(request, deadline)).map((r) => REVOCATION_RESULTS[r]),
      }),
    },
    hooks,
  );
  return { ...unary, watchAuthTokenEvents: watchAuthTokenEvents(events.hub, hooks, events) };
}
