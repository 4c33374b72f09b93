// authtoken.v1.AuthTokenService: translation between proto messages and the AuthTokens use cases.
import type { AuthTokens } from '../domain/auth-tokens';
import { AuthTokenServiceService } from '../../gen/authtoken/v1/auth_token_service';
import { archivedAuthTokenMessage, authTokenMessage, userMessage } from './messages';
import { type CallHooks, implement } from './unary';

export function authTokenService(tokens: AuthTokens, hooks: CallHooks) {
  return implement(
    AuthTokenServiceService,
    {
      createAuthToken: async (request) => {
        const { authToken, secret, evictedTokenIds, replacedTokenIds } = await tokens.create(request);
        return { authToken: authTokenMessage(authToken, secret), evictedTokenIds, replacedTokenIds };
      },
      listAuthTokens: async (request) => {
        const { items, nextPageToken, totalSize } = await tokens.list(request);
        return { authTokens: items.map((t) => authTokenMessage(t)), nextPageToken, totalSize };
      },
      getAuthToken: async (request) => authTokenMessage(await tokens.get(request)),
      updateAuthToken: async (request) =>
        authTokenMessage(await tokens.update(request)),
      deleteAuthToken: async (request) => ({
        archivedAuthToken: archivedAuthTokenMessage(await tokens.delete(request)),
      }),
      flushAuthTokens: async (request) => ({ deletedCount: await tokens.flush(request) }),
      validateAuthToken: async (request) => {
        const { uid, authToken, user } = await tokens.validate(request);
        return { uid, authToken: authTokenMessage(authToken), user: userMessage(user) };
      },
      listArchivedAuthTokens: async (request) => {
        const { items, nextPageToken } = await tokens.listArchived(request);
        return { archivedAuthTokens: items.map(archivedAuthTokenMessage), nextPageToken };
      },
    },
    hooks,
  );
}
