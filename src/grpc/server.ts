// The gRPC server: both services, standard health checking and reflection, with explicit
// transport settings.
import { Server, type ServerCredentials, type ServiceDefinition } from '@grpc/grpc-js';
import { HealthImplementation } from 'grpc-health-check';
import type { AuthTokens } from '../domain/auth-tokens';
import type { Users } from '../domain/users';
import { AuthTokenServiceService } from '../../gen/authtoken/v1/auth_token_service';
import { UserServiceService } from '../../gen/authtoken/v1/user_service';
import { authTokenService } from './auth-token-service';
import { decodingFailuresAsValues, rejectInvalidUtf8 } from './decoding';
import { acceptingEncodedResponses } from './encoded-responses';
import { addReflection } from './reflection';
import type { CallHooks } from './unary';
import { userService } from './user-service';

/** Readiness is reported per service; liveness is the whole server, "". */
export const READINESS_SERVICES = [serviceName(AuthTokenServiceService), serviceName(UserServiceService)];
export const LIVENESS_SERVICE = '';
const HEALTH_SERVICE = 'grpc.health.v1.Health';
const REFLECTION_SERVICES = ['grpc.reflection.v1.ServerReflection', 'grpc.reflection.v1alpha.ServerReflection'];

export const SERVER_OPTIONS = {
  // Requests are small (the largest field limit is 5 KB); a list of 100 tokens with 5 KB app_info
  // each is about 0.5 MB.
  'grpc.max_receive_message_length': 256 * 1024,
  'grpc.max_send_message_length': 4 * 1024 * 1024,
  // Ping idle clients so dead connections are noticed behind load balancers and NAT.
  'grpc.keepalive_time_ms': 60_000,
  'grpc.keepalive_timeout_ms': 20_000,
  // HTTP/2 connections stick to one replica; ageing them out makes clients reconnect and spread
  // over new replicas. In-flight calls get the grace period to finish.
  'grpc.max_connection_age_ms': 5 * 60_000,
  'grpc.max_connection_age_grace_ms': 30_000,
};

export interface RunningServer {
  server: Server;
  health: HealthImplementation;
  port: number;
}

export async function startServer(options: {
  host: string;
  port: number;
  users: Users;
  tokens: AuthTokens;
  hooks: CallHooks;
  credentials: ServerCredentials;
}): Promise<RunningServer> {
  rejectInvalidUtf8();
  const server = new Server(SERVER_OPTIONS);
  server.addService(served(UserServiceService), userService(options.users, options.hooks));
  server.addService(served(AuthTokenServiceService), authTokenService(options.tokens, options.hooks));

  // Not ready until the database has answered.
  const health = new HealthImplementation({
    [LIVENESS_SERVICE]: 'SERVING',
    ...Object.fromEntries(READINESS_SERVICES.map((name) => [name, 'NOT_SERVING' as const])),
  });
  health.addToServer(server);
  addReflection(server, [...READINESS_SERVICES, HEALTH_SERVICE, ...REFLECTION_SERVICES]);

  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${options.host}:${options.port}`, options.credentials, (error, bound) =>
      error ? reject(error) : resolve(bound),
    ),
  );
  return { server, health, port };
}

/**
 * A definition as this server serves it: requests checked strictly (decoding.ts), and a handler may
 * answer with a response already encoded (unary.ts Handlers, encoded-responses.ts).
 */
function served<S extends ServiceDefinition>(definition: S): S {
  return decodingFailuresAsValues(acceptingEncodedResponses(definition));
}

function serviceName(definition: { [method: string]: { path: string } }): string {
  return Object.values(definition)[0]!.path.split('/')[1]!;
}
