// The gRPC server with both services, bound to host:port.
import { Server, ServerCredentials } from '@grpc/grpc-js';
import type { AuthTokens } from '../domain/auth-tokens';
import type { Users } from '../domain/users';
import type { Logger } from '../logger';
import { AuthTokenServiceService } from '../../gen/authtoken/v1/auth_token_service';
import { UserServiceService } from '../../gen/authtoken/v1/user_service';
import { authTokenService } from './auth-token-service';
import { userService } from './user-service';

export interface RunningServer {
  server: Server;
  port: number;
}

export async function startServer(options: {
  host: string;
  port: number;
  users: Users;
  tokens: AuthTokens;
  log: Logger;
}): Promise<RunningServer> {
  const server = new Server();
  server.addService(UserServiceService, userService(options.users, options.log));
  server.addService(AuthTokenServiceService, authTokenService(options.tokens, options.log));
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${options.host}:${options.port}`, ServerCredentials.createInsecure(), (error, bound) =>
      error ? reject(error) : resolve(bound),
    ),
  );
  return { server, port };
}
