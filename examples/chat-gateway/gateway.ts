// A chat gateway in miniature: WebSocket clients connect with an auth token, the gateway checks it
// once (ValidateAuthToken), holds the session, and closes it within moments of the token being
// revoked, whatever the reason and through whichever replica, because it watches the service's
// auth token events (WatchAuthTokenEvents). What a real gateway would add (chat, fan-out between
// users) is left out; what it must get right about sessions is all here.
import type { IncomingMessage } from 'node:http';
import { credentials, Metadata, type ServiceError, status } from '@grpc/grpc-js';
import { WebSocket, WebSocketServer } from 'ws';
import {
  type AuthTokenEvent,
  AuthTokenEventType,
  AuthTokenServiceClient,
  type ValidateAuthTokenResponse,
} from '../../gen/authtoken/v1/auth_token_service';
import { ArchiveReason } from '../../gen/authtoken/v1/resources';

/** WebSocket close codes (4000-4999 are the application's). */
export const CLOSE_TOKEN_NOT_VALID = 4401;
export const CLOSE_TOKEN_REVOKED = 4001;
export const CLOSE_GATEWAY_STOPPING = 1001;

export interface GatewayOptions {
  /** The auth token service, host:port. */
  service: string;
  /** An API key of scope `validate` (or none, when the service runs without keys). */
  apiKey?: string;
  port: number;
  host?: string;
}

export interface RunningGateway {
  port: number;
  /** Sessions open now. */
  readonly sessions: number;
  stop(): Promise<void>;
}

interface Session {
  socket: WebSocket;
  /** Checked again after a gap in the events. */
  secret: string;
  expiry?: NodeJS.Timeout;
}

/** Token ids revoked lately, so that a revocation that lands while a login is being checked still closes it. */
const RECENT_REVOCATIONS = 10_000;
const RECONNECT_MS = 1_000;

export async function startGateway(options: GatewayOptions): Promise<RunningGateway> {
  const client = new AuthTokenServiceClient(options.service, credentials.createInsecure());
  const metadata = () => {
    const m = new Metadata();
    if (options.apiKey) m.set('authorization', `Bearer ${options.apiKey}`);
    return m;
  };
  const sessions = new Map<string, Set<Session>>(); // by token_id
  const recentlyRevoked = new Set<string>();
  let stopping = false;

  const close = (tokenId: string, code: number, reason: string) => {
    for (const session of sessions.get(tokenId) ?? []) {
      clearTimeout(session.expiry);
      session.socket.close(code, reason);
    }
    sessions.delete(tokenId);
  };

  const revoked = (event: AuthTokenEvent) => {
    recentlyRevoked.add(event.tokenId);
    if (recentlyRevoked.size > RECENT_REVOCATIONS) recentlyRevoked.delete(recentlyRevoked.values().next().value!);
    close(event.tokenId, CLOSE_TOKEN_REVOKED, `auth token revoked: ${ArchiveReason[event.reason].replace('ARCHIVE_REASON_', '')}`);
  };

  // Sessions are accepted only once the watch is live: no revocation can then go unseen.
  const watch = new EventWatch(client, metadata, revoked, () => revalidateAll());
  await watch.live;

  /** After a gap in the events (history lost): check every open session again. */
  async function revalidateAll(): Promise<void> {
    for (const [tokenId, open] of sessions) {
      for (const session of open) {
        if (!(await validate(session.secret).catch(() => undefined))) close(tokenId, CLOSE_TOKEN_REVOKED, 'auth token revoked');
      }
    }
  }

  function validate(secret: string): Promise<ValidateAuthTokenResponse | undefined> {
    return new Promise((done, fail) =>
      client.validateAuthToken({ authToken: secret, platform: 'web', deviceId: '', userAgent: 'chat-gateway', appInfo: undefined }, metadata(), (error, response) => {
        if (!error) done(response);
        else if (error.code === status.NOT_FOUND || error.code === status.INVALID_ARGUMENT) done(undefined);
        else fail(error);
      }),
    );
  }

  const server = new WebSocketServer({ port: options.port, host: options.host ?? '127.0.0.1' });
  server.on('connection', (socket: WebSocket, request: IncomingMessage) => {
    const secret = new URL(request.url ?? '/', 'ws://gateway').searchParams.get('token') ?? '';
    validate(secret).then(
      (valid) => {
        const token = valid?.authToken;
        if (!token || stopping || recentlyRevoked.has(token.tokenId)) {
          socket.close(CLOSE_TOKEN_NOT_VALID, 'auth token not valid');
          return;
        }
        const session: Session = { socket, secret };
        // Expiry is known in advance: close at the instant, not when the service's sweep reports it.
        if (token.expireTime) {
          session.expiry = setTimeout(() => close(token.tokenId, CLOSE_TOKEN_REVOKED, 'auth token revoked: EXPIRED'), token.expireTime.getTime() - Date.now());
        }
        const open = sessions.get(token.tokenId) ?? new Set();
        open.add(session);
        sessions.set(token.tokenId, open);
        socket.on('close', () => {
          clearTimeout(session.expiry);
          open.delete(session);
          if (open.size === 0 && sessions.get(token.tokenId) === open) sessions.delete(token.tokenId);
        });
        socket.send(JSON.stringify({ type: 'welcome', uid: valid.uid, tokenId: token.tokenId }));
      },
      () => socket.close(1013, 'auth service unavailable, try again later'),
    );
  });
  await new Promise<void>((done) => server.once('listening', () => done()));

  return {
    port: (server.address() as { port: number }).port,
    get sessions() {
      return [...sessions.values()].reduce((n, open) => n + open.size, 0);
    },
    async stop() {
      stopping = true;
      for (const tokenId of [...sessions.keys()]) close(tokenId, CLOSE_GATEWAY_STOPPING, 'gateway stopping');
      watch.stop();
      await new Promise<void>((done) => server.close(() => done()));
      client.close();
    },
  };
}

/**
 * The gateway's one watch of every event, kept open: after a disconnect it resumes from the last
 * resume_token received; when the service no longer has the events since (FAILED_PRECONDITION),
 * it revalidates every session and starts afresh.
 */
class EventWatch {
  readonly live: Promise<void>;
  private resumeToken = '';
  private call: ReturnType<AuthTokenServiceClient['watchAuthTokenEvents']> | undefined;
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly client: AuthTokenServiceClient,
    private readonly metadata: () => Metadata,
    private readonly revoked: (event: AuthTokenEvent) => void,
    private readonly gap: () => Promise<void>,
  ) {
    this.live = new Promise((done, fail) => this.open(done, fail));
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.call?.cancel();
  }

  private open(live?: () => void, failed?: (error: Error) => void): void {
    const call = (this.call = this.client.watchAuthTokenEvents({ uids: [], resumeToken: this.resumeToken }, this.metadata()));
    call.on('data', (event: AuthTokenEvent) => {
      this.resumeToken = event.resumeToken;
      if (event.type === AuthTokenEventType.AUTH_TOKEN_EVENT_TYPE_REVOKED) this.revoked(event);
      live?.();
    });
    call.on('error', (error: ServiceError) => {
      if (this.stopped) return;
      if (failed && !this.resumeToken) return failed(error); // never live: the gateway does not start
      if (error.code === status.FAILED_PRECONDITION) {
        this.resumeToken = '';
        void this.gap();
      }
      this.timer = setTimeout(() => this.open(), RECONNECT_MS);
    });
  }
}
