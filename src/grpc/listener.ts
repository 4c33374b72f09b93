// The TCP listener, owned here rather than by grpc-js (which has no connection limit): it accepts
// at most maxConnections connections at once, closing any more as they arrive, and hands each
// accepted one to the gRPC server through grpc-js's connection injector (TLS included).
import type { Socket } from 'node:net';
import { createServer } from 'node:net';
import type { Server, ServerCredentials } from '@grpc/grpc-js';

export interface Listener {
  port: number;
  /** Stops accepting connections; those accepted are the gRPC server's to close. */
  stopAccepting(): void;
  /** Closes what the gRPC server did not, e.g. a connection still in its TLS handshake. */
  closeConnections(): void;
}

export async function listen(options: {
  server: Server;
  credentials: ServerCredentials;
  host: string;
  port: number;
  maxConnections: number;
  /** Called for each connection closed on arrival because maxConnections were open. */
  closedOnArrival: () => void;
}): Promise<Listener> {
  const injector = options.server.createConnectionInjector(options.credentials);
  // At most maxConnections entries: more are closed before they are handed on.
  const sockets = new Set<Socket>();
  const listener = createServer((socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    injector.injectConnection(socket);
  });
  listener.maxConnections = options.maxConnections;
  listener.on('drop', options.closedOnArrival);
  await new Promise<void>((resolve, reject) => {
    listener.once('error', reject);
    listener.listen(options.port, options.host, () => {
      listener.off('error', reject);
      resolve();
    });
  });
  return {
    port: (listener.address() as { port: number }).port,
    stopAccepting: () => listener.close(),
    closeConnections: () => sockets.forEach((socket) => socket.destroy()),
  };
}
