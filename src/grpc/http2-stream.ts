// The HTTP/2 stream under a grpc-js server call. grpc-js (1.10 to 1.14) keeps it private, in the
// innermost call object that interceptors wrap (BaseServerInterceptingCall.stream), and offers no
// way to reset a stream: on a deadline it only ends the call logically, leaving a response the
// client does not read queued until the connection closes; after answering early it leaves the
// stream open for as long as the client keeps sending. The call guard (call-guard.ts) needs the
// stream to do both, so it is read here and nowhere else. Should a grpc-js upgrade move it, every
// call fails loudly at once rather than losing the protection silently.
import type { ServerHttp2Stream } from 'node:http2';
import type { ServerInterceptingCallInterface } from '@grpc/grpc-js';

export function http2StreamOf(call: ServerInterceptingCallInterface): ServerHttp2Stream {
  const stream = (call as unknown as { stream?: Partial<ServerHttp2Stream> }).stream;
  if (typeof stream?.close !== 'function' || typeof stream.writableLength !== 'number') {
    throw new Error('grpc-js no longer exposes the HTTP/2 stream of a call: the call guard must be the first interceptor');
  }
  return stream as ServerHttp2Stream;
}
