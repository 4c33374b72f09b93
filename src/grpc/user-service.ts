// authtoken.v1.UserService: translation between proto messages and the Users use cases.
import type { Users } from '../domain/users';
import { UserServiceService } from '../../gen/authtoken/v1/user_service';
import { authTokenMessage, userMessage } from './messages';
import type { CallHooks } from './call-hooks';
import { implement } from './unary';

export function userService(users: Users, hooks: CallHooks) {
  return implement(
    UserServiceService,
    {
      createUser: async (request, { deadline }) => {
        const { user, issued } = await users.create(request, deadline);
        return {
          user: userMessage(user),
          authToken: issued && authTokenMessage(issued.authToken, issued.secret),
        };
      },
      getUser: async (request, { deadline }) => userMessage(await users.get(request, deadline)),
      deleteUser: async (request, { deadline }) => ({ archivedTokenCount: await users.delete(request, deadline) }),
    },
    hooks,
  );
}
