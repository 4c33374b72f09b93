// Server credentials: plaintext, TLS, or mutual TLS, from the configured PEM files.
import { readFileSync } from 'node:fs';
import { ServerCredentials } from '@grpc/grpc-js';
import type { Config } from '../config';

export function serverCredentials(config: Pick<Config, 'TLS_CERT_FILE' | 'TLS_KEY_FILE' | 'TLS_CLIENT_CA_FILE'>): ServerCredentials {
  if (!config.TLS_CERT_FILE || !config.TLS_KEY_FILE) return ServerCredentials.createInsecure();
  const clientCa = config.TLS_CLIENT_CA_FILE ? readFileSync(config.TLS_CLIENT_CA_FILE) : null;
  return ServerCredentials.createSsl(
    clientCa,
    [{ cert_chain: readFileSync(config.TLS_CERT_FILE), private_key: readFileSync(config.TLS_KEY_FILE) }],
    clientCa !== null, // with a client CA, a client certificate is required (mutual TLS)
  );
}
