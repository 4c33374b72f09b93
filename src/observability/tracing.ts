// Optional OpenTelemetry tracing of gRPC calls and MongoDB operations, off unless the standard
// OTEL_* variables ask for it (e.g. OTEL_EXPORTER_OTLP_ENDPOINT, or OTEL_TRACES_EXPORTER=otlp or
// console). main.ts imports this module first: instrumentation must patch @grpc/grpc-js and
// mongodb before they are loaded.
import type { NodeSDK } from '@opentelemetry/sdk-node';

export function tracingRequested(env: NodeJS.ProcessEnv): boolean {
  if (env.OTEL_SDK_DISABLED === 'true') return false;
  const exporter = env.OTEL_TRACES_EXPORTER;
  return (
    (exporter !== undefined && exporter !== '' && exporter !== 'none') ||
    Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT) ||
    Boolean(env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT)
  );
}

function startTracing(): NodeSDK {
  // Traces only: metrics are Prometheus and logs are pino. Left at their defaults, the SDK's OTLP
  // metric and log exporters would also start, and hold up every shutdown for seconds.
  process.env.OTEL_METRICS_EXPORTER ||= 'none';
  process.env.OTEL_LOGS_EXPORTER ||= 'none';
  // Loaded only when tracing is on, and synchronously, so it runs before grpc-js is required.
  const { NodeSDK: Sdk } = require('@opentelemetry/sdk-node') as typeof import('@opentelemetry/sdk-node');
  const { GrpcInstrumentation } = require('@opentelemetry/instrumentation-grpc') as typeof import('@opentelemetry/instrumentation-grpc');
  const { MongoDBInstrumentation } = require('@opentelemetry/instrumentation-mongodb') as typeof import('@opentelemetry/instrumentation-mongodb');
  const sdk = new Sdk({
    serviceName: process.env.OTEL_SERVICE_NAME || 'auth-token-service',
    instrumentations: [
      // Probes and reflection would drown the traces that matter.
      new GrpcInstrumentation({ ignoreGrpcMethods: ['Check', 'Watch', 'List', 'ServerReflectionInfo'] }),
      // Statements stay out of spans: filters carry token hashes.
      new MongoDBInstrumentation({ enhancedDatabaseReporting: false }),
    ],
  });
  sdk.start();
  return sdk;
}

export const tracing: NodeSDK | undefined = tracingRequested(process.env) ? startTracing() : undefined;
