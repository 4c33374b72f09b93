// Transport 1 of 3: a gRPC call as a plain HTTP/2 POST over node:http2. Whatever body it is given
// goes on the wire as it is -- several frames, half a frame, a frame whose length lies -- which no
// gRPC client will send; the status is read from the response headers or trailers.
import { type ClientHttp2Session, constants as http2 } from 'node:http2';
import { decodeOutcome, type Outcome } from './outcome';

/**
 * POSTs `body` (a whole request body: see grpc-frame.ts) to `path` ("/package.Service/Method") on
 * `session`, with `authorization` as that header unless undefined. Rejects if the stream closes
 * without a grpc-status, or with details that ../grpc-status.ts cannot accept.
 */
export function sendRaw(
  session: ClientHttp2Session,
  path: string,
  body: Buffer,
  authorization: string | undefined,
): Promise<Outcome & { httpStatus: number }> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = {
      [http2.HTTP2_HEADER_METHOD]: 'POST',
      [http2.HTTP2_HEADER_PATH]: path,
      'content-type': 'application/grpc',
      te: 'trailers',
    };
    if (authorization !== undefined) headers.authorization = authorization;
    const request = session.request(headers);
    let httpStatus = 0;
    let grpcStatus: string | undefined;
    let details: string | undefined;
    const take = (h: Record<string, unknown>) => {
      if (h['grpc-status'] !== undefined) grpcStatus = String(h['grpc-status']);
      if (h['grpc-status-details-bin'] !== undefined) details = String(h['grpc-status-details-bin']);
    };
    request.on('response', (h) => {
      httpStatus = Number(h[http2.HTTP2_HEADER_STATUS]);
      take(h);
    });
    request.on('trailers', take);
    request.on('data', () => undefined);
    // The server may answer (e.g. an oversize message) and reset the stream before reading it all.
    request.on('error', () => undefined);
    request.on('close', () => {
      if (grpcStatus === undefined) {
        reject(new Error(`no grpc-status (HTTP ${httpStatus}, RST ${request.rstCode})`));
        return;
      }
      // (Decoding throws on details that contradict grpc-status: a rejection, not an uncaught error.)
      try {
        resolve({ httpStatus, ...decodeOutcome(Number(grpcStatus), details === undefined ? undefined : Buffer.from(details, 'base64')) });
      } catch (error) {
        reject(error);
      }
    });
    request.end(body);
  });
}
