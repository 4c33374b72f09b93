// The TCP listener, owned here rather than by grpc-js (which has no connection limit): it accepts
// at most maxConnections connections at once, closing any more as they arrive, and hands each
// accepted one to the gRPC server through grpc-js's connection injector (TLS included).
import { createServer, type Server as NetServer } from 'node:net';
import type { Server, ServerCredentials } from '@grpc/grpc-js';

export interface Listener {
  port: number;
  /** Stops accepting connections; those already accepted are the gRPC server's to close. */
  close(): Promise<void>;
}

export async function listen(options: {
  server: Server;
  credentials: ServerCredentials;
  host: string;
  port: number;
  maxConnections: number;
  /** Called for each connection closed because maxConnections were open. */
  dropped: () => void;
}): Promise<Listener> {
  const injector = options.server.createConnectionInjector(options.credentials);
  const listener: NetServer = createServer((socket) => injector.injectConnection(socket));
  listener.maxConnections = options.maxConnections;
  listener.on('drop', options.dropped);
  await new Promise<void>((resolve, reject) => {
    listener.once('error', reject);
    listener.listen(options.port, options.host, () => {
      listener.off('error', reject);
      resolve();
    });
  });
  return {
    port: (listener.address() as { port: number }).port,
    close: () => new Promise<void>((done) => listener.close(() => done())),
  };
}
