// What one client can make a replica hold, chosen on purpose: every connection, stream, request and
// unread response has a bound, so that no caller (with a key or without) can exhaust the 128 MB
// heap or the process's memory. The tunable ones come from the configuration (README lists them
// all); the rest are fixed here.
import type { ServerOptions } from '@grpc/grpc-js';
import type { Config } from '../config';

export interface TransportLimits {
  maxConnections: number;
  maxConcurrentStreams: number;
  /** API calls handled at once (their handlers running); more wait their connection's turn. */
  maxRunningCalls: number;
  connectionIdleTimeoutMs: number;
  connectionMaxAgeMs: number;
  unreadResponseBytesPerConnection: number;
  unreadResponseBytes: number;
  /** Health Watch streams at once: they need no key, and each holds little. */
  maxHealthWatchStreams: number;
  /** WatchAuthTokenEvents streams at once, and the events each may hold unread (event-watch.ts). */
  maxEventStreams: number;
  eventStreamBacklog: number;
}

/** The limits a refusal can name (metrics label and ErrorInfo metadata). */
export type TransportLimit =
  | 'metadata_size'
  | 'calls_awaiting_request'
  | 'health_watch_streams'
  | 'reflection_streams'
  | 'event_streams'
  | 'event_backlog'
  | 'waiting_calls'
  | 'unread_responses'
  | 'response_send_timeout'
  | 'connections';

/** Streams that share one cap, e.g. reflection v1 and v1alpha. */
export interface StreamPool {
  limit: TransportLimit;
  max: number;
  /** For the refusal message, e.g. "reflection streams". */
  what: string;
}

export function transportLimits(config: Config): TransportLimits {
  return {
    maxConnections: config.MAX_CONNECTIONS,
    maxConcurrentStreams: config.MAX_CONCURRENT_STREAMS,
    maxRunningCalls: config.MAX_RUNNING_CALLS,
    connectionIdleTimeoutMs: config.CONNECTION_IDLE_TIMEOUT_MS,
    connectionMaxAgeMs: config.CONNECTION_MAX_AGE_MS,
    unreadResponseBytesPerConnection: config.UNREAD_RESPONSE_BYTES_PER_CONNECTION,
    unreadResponseBytes: config.UNREAD_RESPONSE_BYTES,
    maxHealthWatchStreams: config.MAX_HEALTH_WATCH_STREAMS,
    maxEventStreams: config.MAX_EVENT_STREAMS,
    eventStreamBacklog: config.EVENT_STREAM_BACKLOG,
  };
}

/**
 * Requests are small: the largest valid one (CreateAuthToken with 5 KB of app_info and three
 * 255-character fields) is under 40 KB encoded. A call waiting for its request holds at most this.
 */
export const MAX_REQUEST_BYTES = 64 * 1024;
/** A ListAuthTokens page of 100 tokens with 5 KB of app_info each is about 0.6 MB. */
export const MAX_RESPONSE_BYTES = 4 * 1024 * 1024;
/**
 * Request metadata (headers) per call, as gRPC implementations usually limit it. HTTP/2 itself
 * refuses header lists over 64 KiB (Node's default, which grpc-js does not let us lower); calls
 * over this smaller limit are refused before anything else is done for them.
 */
export const MAX_METADATA_BYTES = 8 * 1024;
/**
 * Calls whose request has not fully arrived. A request sent at once arrives at once, so when there
 * are more than this, the one that has waited longest is refused: a flood of withheld requests
 * cannot crowd out a health probe's.
 */
export const MAX_CALLS_AWAITING_REQUEST = 256;
/**
 * API calls waiting for a place among maxRunningCalls, all connections together. Each holds its
 * decoded request (up to MAX_REQUEST_BYTES), so at most about 32 MB. Beyond it, the newest call of
 * the connection with the most waiting is refused: the queue sheds the flood, not the others.
 */
export const MAX_WAITING_CALLS = 512;
/**
 * Calls whose response HTTP/2 has not taken, all connections together. The unread byte bounds do
 * not bound their number (a health Check answer is 7 bytes), and each holds its stream and call
 * state, 8 to 18 KB as measured; beyond this, the one that has waited longest has its stream reset.
 */
export const MAX_CALLS_WITH_UNREAD_RESPONSES = 1024;
/**
 * Reflection streams at once (v1 and v1alpha together). They need no key, and one can hold up to
 * 16 buffered requests (grpc-js's stream buffer) while its answer waits; grpcurl uses one at a time.
 */
export const MAX_REFLECTION_STREAMS = 16;
/**
 * A response not taken by the client within this long (or by the call's deadline, if sooner) is
 * abandoned: its stream is reset and its bytes released.
 */
export const RESPONSE_SEND_TIMEOUT_MS = 30_000;
/** Node's per-connection HTTP/2 memory cap (MB), above the unread-response bound as a backstop. */
const SESSION_MEMORY_MB = 32;
const KEEPALIVE_TIME_MS = 60_000;
const KEEPALIVE_TIMEOUT_MS = 20_000;
const CONNECTION_AGE_GRACE_MS = 30_000;

/** grpc-js server options for these limits (the connection count is the listener's, listener.ts). */
export function grpcServerOptions(limits: TransportLimits): ServerOptions {
  return {
    'grpc.max_receive_message_length': MAX_REQUEST_BYTES,
    'grpc.max_send_message_length': MAX_RESPONSE_BYTES,
    'grpc.max_concurrent_streams': limits.maxConcurrentStreams,
    'grpc-node.max_session_memory': SESSION_MEMORY_MB,
    // Ping so that dead connections (behind load balancers and NAT) are noticed and closed.
    'grpc.keepalive_time_ms': KEEPALIVE_TIME_MS,
    'grpc.keepalive_timeout_ms': KEEPALIVE_TIMEOUT_MS,
    'grpc.max_connection_idle_ms': limits.connectionIdleTimeoutMs,
    // HTTP/2 connections stick to one replica; ageing them out makes clients reconnect and spread
    // over new replicas, and bounds how long any one connection lives. In-flight calls get the
    // grace period to finish.
    'grpc.max_connection_age_ms': limits.connectionMaxAgeMs,
    'grpc.max_connection_age_grace_ms': CONNECTION_AGE_GRACE_MS,
  };
}
