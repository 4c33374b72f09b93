// What grpc-js (1.10 to 1.14) keeps to itself that the call guard (call-guard.ts) needs, read here
// and nowhere else. Should an upgrade move either, every call fails loudly at once rather than
// losing the protection silently.
//
// The HTTP/2 stream under a server call is private, in the innermost call object that interceptors
// wrap (BaseServerInterceptingCall.stream), and grpc-js offers no way to reset a stream: on a
// deadline it only ends the call logically, leaving a response the client does not read queued
// until the connection closes; after answering early it leaves the stream open for as long as the
// client keeps sending. The guard needs the stream to do both.
import type { ServerHttp2Stream } from 'node:http2';
import type { Metadata, ServerInterceptingCallInterface } from '@grpc/grpc-js';

export function http2StreamOf(call: ServerInterceptingCallInterface): ServerHttp2Stream {
  const stream = (call as unknown as { stream?: Partial<ServerHttp2Stream> }).stream;
  if (typeof stream?.close !== 'function' || typeof stream.writableLength !== 'number') {
    throw new Error('grpc-js no longer exposes the HTTP/2 stream of a call: the call guard must be the first interceptor');
  }
  return stream as ServerHttp2Stream;
}

/** Per header field, as RFC 9113 §6.5.2 counts header list size. */
const HEADER_FIELD_OVERHEAD = 32;

/**
 * The size of a call's metadata as HTTP/2 counts it, read from the Metadata's own map rather than
 * from toJSON() or getMap(), which copy (and base64-encode binary values) on every call. Its
 * internalRepr is protected in grpc-js's types; if it is missing, this says so at the first call.
 */
export function metadataSize(metadata: Metadata): number {
  const entries = (metadata as unknown as { internalRepr?: Map<string, (string | Buffer)[]> }).internalRepr;
  if (!(entries instanceof Map)) throw new Error('grpc-js Metadata no longer keeps its entries in internalRepr');
  let size = 0;
  for (const [key, values] of entries) {
    for (let i = 0; i < values.length; i++) size += key.length + values[i]!.length + HEADER_FIELD_OVERHEAD;
  }
  return size;
}
