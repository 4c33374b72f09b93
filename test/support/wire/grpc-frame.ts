// The gRPC length-prefixed message, written by hand: a transport that sends a whole HTTP/2 body
// itself needs it, and tests of framing need it wrong (a declared length that is not the payload's).
// Reference: https://github.com/grpc/grpc/blob/master/doc/PROTOCOL-HTTP2.md ("Length-Prefixed-Message").

/** Compression flag 0, 4-byte big-endian length (`declaredLength`, the payload's by default), payload. */
export function grpcFrame(payload: Buffer, declaredLength = payload.length): Buffer {
  const header = Buffer.alloc(5);
  header.writeUInt32BE(declaredLength, 1);
  return Buffer.concat([header, payload]);
}
