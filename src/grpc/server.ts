// The gRPC server: both services, standard health checking and reflection, behind the call guard
// and API-key admission, on a listener that bounds connections (transport-limits.ts).
import {
  type deserialize as Deserialize,
  type serialize as Serialize,
  Server,
  type ServerCredentials,
  type ServiceDefinition,
  type UntypedHandleCall,
} from '@grpc/grpc-js';
import type { AuthTokens } from '../domain/auth-tokens';
import type { EventHub } from '../domain/event-hub';
import type { Users } from '../domain/users';
import { AuthTokenServiceService } from '../../gen/authtoken/v1/auth_token_service';
import { UserServiceService } from '../../gen/authtoken/v1/user_service';
import { HealthService } from '../../gen/health/v1/health';
import * as reflectionV1 from '../../gen/grpc/reflection/v1/reflection';
import * as reflectionV1alpha from '../../gen/grpc/reflection/v1alpha/reflection';
import { Admission } from './admission';
import { authTokenService } from './auth-token-service';
import { CallGuard } from './call-guard';
import type { CallHooks } from './call-hooks';
import { decodingFailuresAsValues, rejectInvalidUtf8 } from './decoding';
import { passingEncoded } from './encoded-responses';
import { Health } from './health';
import { listen } from './listener';
import { addReflection } from './reflection';
import {
  grpcServerOptions,
  MAX_REFLECTION_STREAMS,
  type StreamPool,
  type TransportLimit,
  type TransportLimits,
} from './transport-limits';
import { userService } from './user-service';

/** Readiness is reported per service; liveness is the whole server, "". */
export const READINESS_SERVICES = [serviceName(AuthTokenServiceService), serviceName(UserServiceService)];
export const LIVENESS_SERVICE = '';
const HEALTH_SERVICE = serviceName(HealthService);
const REFLECTION_SERVICES = [serviceName(reflectionV1.ServerReflectionService), serviceName(reflectionV1alpha.ServerReflectionService)];

export interface RunningServer {
  server: Server;
  health: Health;
  port: number;
  /** First step of shutdown: no new connection is accepted. */
  stopAccepting(): void;
  /** Last step, after the gRPC server's own shutdown: closes any connection left, stops the guard. */
  close(): void;
}

export async function startServer(options: {
  host: string;
  port: number;
  users: Users;
  tokens: AuthTokens;
  events: EventHub;
  hooks: CallHooks;
  credentials: ServerCredentials;
  limits: TransportLimits;
  /** Called for every call refused, stream reset or connection closed by a transport limit. */
  limited: (limit: TransportLimit) => void;
}): Promise<RunningServer> {
  rejectInvalidUtf8();
  const guard = new CallGuard({
    limits: options.limits,
    poolOf: streamPools(options.limits),
    admission: new Admission([...paths(UserServiceService), ...paths(AuthTokenServiceService)], options.hooks),
    limited: options.limited,
  });
  // The guard is the one interceptor: it must wrap grpc-js's own call object (http2-stream.ts), and
  // each layer costs every call.
  const server = new EncodedResponsesServer({ ...grpcServerOptions(options.limits), interceptors: [guard.interceptor] });
  server.addService(decodingFailuresAsValues(UserServiceService), userService(options.users, options.hooks));
  server.addService(decodingFailuresAsValues(AuthTokenServiceService), authTokenService(
      options.tokens,
      { hub: options.events, backlog: options.limits.eventStreamBacklog, overflowed: () => options.limited('event_backlog') },
      options.hooks,
    ));

  // Not ready until the database has answered.
  const health = new Health({
    [LIVENESS_SERVICE]: 'SERVING',
    ...Object.fromEntries(READINESS_SERVICES.map((name) => [name, 'NOT_SERVING' as const])),
  });
  health.addToServer(server);
  addReflection(server, [...READINESS_SERVICES, HEALTH_SERVICE, ...REFLECTION_SERVICES]);

  const listener = await listen({
    server,
    credentials: options.credentials,
    host: options.host,
    port: options.port,
    maxConnections: options.limits.maxConnections,
    closedOnArrival: () => options.limited('connections'),
  }).catch((error: unknown) => {
    guard.stop();
    server.forceShutdown();
    throw error;
  });
  return {
    server,
    health,
    port: listener.port,
    stopAccepting: listener.stopAccepting,
    close: () => {
      listener.closeConnections();
      guard.stop();
    },
  };
}

/**
 * A grpc-js Server whose every method also takes an already encoded response (a Buffer) as is:
 * handlers may answer with bytes encoded earlier (encoded-responses.ts), and the call guard
 * encodes each response itself to count its bytes (call-guard.ts).
 */
class EncodedResponsesServer extends Server {
  override register<Req, Res>(
    name: string,
    handler: UntypedHandleCall,
    serialize: Serialize<Res>,
    deserialize: Deserialize<Req>,
    type: string,
  ): boolean {
    return super.register<Req, Res>(name, handler, passingEncoded(serialize as Serialize<unknown>), deserialize, type);
  }
}

/** Health Watch and reflection need no key, and event watches last: their streams are capped, per pool. */
function streamPools(limits: TransportLimits): (path: string) => StreamPool | undefined {
  const events: StreamPool = { limit: 'event_streams', max: limits.maxEventStreams, what: 'WatchAuthTokenEvents streams' };
  const watches: StreamPool = { limit: 'health_watch_streams', max: limits.maxHealthWatchStreams, what: 'health Watch streams' };
  const reflection: StreamPool = { limit: 'reflection_streams', max: MAX_REFLECTION_STREAMS, what: 'reflection streams' };
  const pools = new Map<string, StreamPool>([
    [HealthService.watch.path, watches],
    [AuthTokenServiceService.watchAuthTokenEvents.path, events],
    [reflectionV1.ServerReflectionService.serverReflectionInfo.path, reflection],
    [reflectionV1alpha.ServerReflectionService.serverReflectionInfo.path, reflection],
  ]);
  return (path) => pools.get(path);
}

function paths(definition: ServiceDefinition): string[] {
  return Object.values(definition).map((method) => method.path);
}

function serviceName(definition: ServiceDefinition): string {
  return Object.values(definition)[0]!.path.split('/')[1]!;
}
