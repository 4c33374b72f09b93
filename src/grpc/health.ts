// grpc.health.v1 (Check, Watch, List) for a fixed set of names: "" for liveness and each served
// service for readiness. Any other name gets NOT_FOUND at once, from Check and Watch alike (Watch
// sends SERVICE_UNKNOWN first, as the protocol asks, but then ends rather than waiting for a name
// that can never appear), and leaves nothing behind. (grpc-health-check 2.1 keeps an entry for
// every name ever watched, so distinct names of 200 KB each ran the heap out in about 500 calls.)
import { type Server, type ServerWritableStream, status } from '@grpc/grpc-js';
import {
  type HealthCheckRequest,
  type HealthCheckResponse,
  HealthCheckResponse_ServingStatus as ServingStatusMessage,
  type HealthServer,
  HealthService,
} from '../../gen/health/v1/health';

export type ServingStatus = 'SERVING' | 'NOT_SERVING';

type Watch = ServerWritableStream<HealthCheckRequest, HealthCheckResponse>;

export class Health {
  private readonly statuses: Map<string, ServingStatus>;
  /** One set per known name, made up front: callers cannot add names. */
  private readonly watchers = new Map<string, Set<(status: ServingStatus) => void>>();

  constructor(initial: Readonly<Record<string, ServingStatus>>) {
    this.statuses = new Map(Object.entries(initial));
    for (const name of this.statuses.keys()) this.watchers.set(name, new Set());
  }

  setStatus(name: string, status: ServingStatus): void {
    const watchers = this.watchers.get(name);
    if (!watchers) throw new Error(`health: ${name} is not a known service name`);
    this.statuses.set(name, status);
    watchers.forEach((notify) => notify(status));
  }

  addToServer(server: Server): void {
    const implementation: HealthServer = {
      check: (call, callback) => {
        const current = this.statuses.get(call.request.service);
        if (current) callback(null, { status: ServingStatusMessage[current] });
        else callback(this.unknown());
      },
      watch: (call) => this.watch(call),
      list: (_call, callback) => {
        const statuses = [...this.statuses].map(([name, current]) => [name, { status: ServingStatusMessage[current] }]);
        callback(null, { statuses: Object.fromEntries(statuses) });
      },
    };
    server.addService(HealthService, implementation);
  }

  /**
   * Sends the current status, then each change. One message at a time: while one has not left,
   * a newer status replaces the one waiting, so a client that does not read holds one message,
   * and the call guard ends its stream.
   */
  private watch(call: Watch): void {
    const name = call.request.service;
    const watchers = this.watchers.get(name);
    if (!watchers) {
      call.write({ status: ServingStatusMessage.SERVICE_UNKNOWN });
      call.emit('error', this.unknown());
      return;
    }
    let latest = this.statuses.get(name)!;
    let sent: ServingStatus | undefined;
    let sending = false;
    const send = () => {
      if (sending || latest === sent) return;
      sending = true;
      sent = latest;
      call.write({ status: ServingStatusMessage[latest] }, () => {
        sending = false;
        send();
      });
    };
    const notify = (status: ServingStatus) => {
      latest = status;
      send();
    };
    watchers.add(notify);
    call.on('cancelled', () => watchers.delete(notify));
    send();
  }

  private unknown() {
    const names = [...this.statuses.keys()].map((name) => JSON.stringify(name)).join(', ');
    return { code: status.NOT_FOUND, details: `Unknown service name; this server reports the health of ${names}.` };
  }
}
