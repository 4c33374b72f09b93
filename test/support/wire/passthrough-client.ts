// Transport 2 of 3: a real grpc-js client whose serializer is the identity, so that it sends the
// given bytes as the request message, however malformed, inside a frame grpc-js writes itself.
// It shows that what the raw transport finds is also what a gRPC client meets.
import { type Client, Metadata, status } from '@grpc/grpc-js';
import { type Outcome, outcomeOfError } from './outcome';

/** Sends `bytes` as the request message of `path` ("/package.Service/Method") through `client`, unserialized. */
export function sendBytes(client: Client, path: string, bytes: Buffer, authorization: string | undefined): Promise<Outcome> {
  const metadata = new Metadata();
  if (authorization !== undefined) metadata.set('authorization', authorization);
  return new Promise((resolve, reject) =>
    client.makeUnaryRequest(
      path,
      (b: Buffer) => b,
      (b: Buffer) => b,
      bytes,
      metadata,
      (error) => {
        // (Decoding throws on details that contradict the status: a rejection, not an uncaught error.)
        try {
          resolve(error ? outcomeOfError(error) : { code: status.OK });
        } catch (decodeFailure) {
          reject(decodeFailure);
        }
      },
    ),
  );
}
