// Prometheus metrics on their own HTTP port: the conventional gRPC server metrics (the names
// go-grpc-prometheus dashboards expect) and the service's token counters.
import { createServer, type Server } from 'node:http';
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { ArchiveReason } from '../domain/model';
import type { CacheLookupResult, TokenActivity, ValidationResult } from '../domain/token-activity';

const GRPC_LABELS = ['grpc_type', 'grpc_service', 'grpc_method'] as const;
type GrpcLabels = Record<(typeof GRPC_LABELS)[number], string>;

interface MethodMetrics {
  labels: GrpcLabels;
  started: { inc(): void };
  handlingSeconds: { observe(seconds: number): void };
  handled: Map<string, { inc(): void }>;
}

export class Metrics implements TokenActivity {
  readonly registry = new Registry();
  private readonly started = new Counter({
    name: 'grpc_server_started_total',
    help: 'RPCs started on the server.',
    labelNames: GRPC_LABELS,
    registers: [this.registry],
  });
  private readonly handled = new Counter({
    name: 'grpc_server_handled_total',
    help: 'RPCs completed on the server, by status code.',
    labelNames: [...GRPC_LABELS, 'grpc_code'],
    registers: [this.registry],
  });
  private readonly handlingSeconds = new Histogram({
    name: 'grpc_server_handling_seconds',
    help: 'Time to handle an RPC, until its status is sent.',
    labelNames: GRPC_LABELS,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  private readonly tokensIssued = new Counter({
    name: 'authtoken_tokens_issued_total',
    help: 'Auth tokens issued.',
    registers: [this.registry],
  });
  private readonly tokensEvicted = new Counter({
    name: 'authtoken_tokens_evicted_total',
    help: 'Auth tokens archived because their user reached the per-user cap.',
    registers: [this.registry],
  });
  private readonly tokensArchived = new Counter({
    name: 'authtoken_tokens_archived_total',
    help: 'Auth tokens archived, by reason.',
    labelNames: ['reason'],
    registers: [this.registry],
  });
  private readonly validations = new Counter({
    name: 'authtoken_validations_total',
    help: 'ValidateAuthToken calls, by result (valid, not_found, invalid).',
    labelNames: ['result'],
    registers: [this.registry],
  });
  private readonly cacheLookups = new Counter({
    name: 'authtoken_validation_cache_lookups_total',
    help: 'Validation lookups, by result: hit, miss (read the database), bypass (cache not live: read the database).',
    labelNames: ['result'],
    registers: [this.registry],
  });

  private readonly transportLimited = new Counter({
    name: 'authtoken_transport_limited_total',
    help: 'Calls refused, streams reset and connections closed by a transport limit, by limit.',
    labelNames: ['limit'],
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }

  /** Label children per method, bound once: resolving labels on every call costs the hot path. */
  private readonly byMethod = new Map<string, MethodMetrics>();

  /** Records the start of a unary call and returns the function that records its end. */
  callStarted(path: string): (grpcCode: string) => void {
    let method = this.byMethod.get(path);
    if (!method) this.byMethod.set(path, (method = this.bindMethod(path)));
    const { started, handlingSeconds, handled } = method;
    started.inc();
    const startedAt = performance.now();
    return (grpcCode) => {
      handlingSeconds.observe((performance.now() - startedAt) / 1000);
      let byCode = handled.get(grpcCode);
      if (!byCode) handled.set(grpcCode, (byCode = this.handled.labels({ ...method.labels, grpc_code: grpcCode })));
      byCode.inc();
    };
  }

  private bindMethod(path: string): MethodMetrics {
    const [service = '', method = ''] = path.replace(/^\//, '').split('/');
    const labels = { grpc_type: 'unary', grpc_service: service, grpc_method: method };
    return {
      labels,
      started: this.started.labels(labels),
      handlingSeconds: this.handlingSeconds.labels(labels),
      handled: new Map(),
    };
  }

  issued(count: number): void {
    this.tokensIssued.inc(count);
  }

  archived(reason: ArchiveReason, count: number): void {
    if (count === 0) return;
    this.tokensArchived.inc({ reason }, count);
    if (reason === 'EVICTED') this.tokensEvicted.inc(count);
  }

  validated(result: ValidationResult): void {
    this.validations.inc({ result });
  }

  cacheLookup(result: CacheLookupResult): void {
    this.cacheLookups.inc({ result });
  }

  limited(limit: string): void {
    this.transportLimited.inc({ limit });
  }
}

/** Serves GET /metrics; resolves with the bound port. */
export async function startMetricsServer(metrics: Metrics, host: string, port: number): Promise<{ server: Server; port: number }> {
  const server = createServer((request, response) => {
    if (request.method !== 'GET' || request.url !== '/metrics') {
      response.writeHead(404).end();
      return;
    }
    metrics.registry.metrics().then(
      (text) => response.writeHead(200, { 'content-type': metrics.registry.contentType }).end(text),
      () => response.writeHead(500).end(),
    );
  });
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(port, host, resolve));
  return { server, port: (server.address() as { port: number }).port };
}
