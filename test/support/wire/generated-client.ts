// Transport 3 of 3: the generated (ts-proto) client, as an application calls the service. It can
// only send what the message types can hold, so it carries the content-level cases (invalid
// values in well-formed messages), and a failure is turned into the same Outcome as the other two.
import { Metadata, type ServiceError, status } from '@grpc/grpc-js';
import { type Outcome, outcomeOfError } from './outcome';

/**
 * Calls `method` (the client's camelCase name, e.g. "getUser") on `client` (svc.users or
 * svc.tokens: a PromisedClient of ../service.ts) with `request`, and `authorization` as metadata
 * unless undefined.
 */
export async function sendTyped(
  client: object,
  method: string,
  request: Record<string, unknown>,
  authorization: string | undefined,
): Promise<Outcome> {
  const metadata = new Metadata();
  if (authorization !== undefined) metadata.set('authorization', authorization);
  const methods = client as Record<string, (r: Record<string, unknown>, m: Metadata) => Promise<unknown>>;
  try {
    await methods[method]!(request, metadata);
    return { code: status.OK };
  } catch (error) {
    return outcomeOfError(error as ServiceError);
  }
}
