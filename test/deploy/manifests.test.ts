// The Kubernetes manifests (deploy/kubernetes/*.yaml) must agree with the code: the ports and
// environment variables of src/config.ts, the health service names of the generated service
// definitions, and the shutdown grace period. The Dockerfile is checked in dockerfile.test.ts; both
// read the code and the manifests through ./artefacts.ts.
import { describe, expect, test } from 'vitest';
import { type Config, ConfigError, loadConfig } from '../../src/config';
import {
  container,
  containerPort,
  DEFAULTS,
  deployment,
  deploymentConfig,
  deploymentEnv,
  env,
  LIVENESS_SERVICE,
  MANIFESTS,
  PACKAGE_VERSION,
  pdb,
  podLabels,
  podSpec,
  READINESS_SERVICE,
  SECRET_SAMPLES,
  selects,
  service,
} from './artefacts';

/** CPU in millicores, memory in bytes, for the quantity forms these manifests use. */
function quantity(value: string | number | undefined): number {
  if (value === undefined) return Number.NaN;
  const match = /^(\d+(?:\.\d+)?)(m|Ki|Mi|Gi|k|M|G)?$/.exec(String(value));
  if (!match) return Number.NaN;
  const scale: Record<string, number> = { '': 1000, m: 1, Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3, k: 1e3, M: 1e6, G: 1e9 };
  const unit = match[2] ?? '';
  // A bare number is cores for cpu (x1000 millicores) and bytes for memory: callers compare like with like.
  return Number(match[1]) * scale[unit]!;
}

describe('the code the artefacts are checked against', () => {
  test('config defaults: gRPC 50051, metrics 9464, 10 s shutdown grace', () => {
    expect(DEFAULTS.PORT).toBe(50051);
    expect(DEFAULTS.METRICS_PORT).toBe(9464);
    expect(DEFAULTS.SHUTDOWN_GRACE_MS).toBe(10_000);
  });

  test('the readiness service name comes from the generated service definition', () => {
    expect(READINESS_SERVICE).toBe('authtoken.v1.AuthTokenService');
  });

  test('the manifests are exactly a Deployment, a Service and a PodDisruptionBudget', () => {
    expect(MANIFESTS.map((m) => `${m.file}:${m.apiVersion}/${m.kind}`).sort()).toEqual([
      'deployment.yaml:apps/v1/Deployment',
      'pdb.yaml:policy/v1/PodDisruptionBudget',
      'service.yaml:v1/Service',
    ]);
  });
});

describe('Deployment', () => {
  test('3 replicas of the image tagged with the package version', () => {
    expect(deployment.spec.replicas).toBe(3);
    expect(podSpec.containers).toHaveLength(1);
    expect(container.image).toBe('auth-token-service:0.1.0');
    expect(container.image).toBe(`auth-token-service:${PACKAGE_VERSION}`);
  });

  test('its selector matches its own pod labels', () => {
    expect(selects(deployment.spec.selector.matchLabels, podLabels)).toBe(true);
  });

  test('every environment variable is one loadConfig reads, with a valid value', () => {
    const names = env.map((v) => v.name);
    expect(new Set(names).size, 'no duplicates').toBe(names.length);
    for (const name of names) {
      const value = deploymentEnv[name]!;
      // With keys: a service bound beyond loopback needs them (tested below).
      const config: Partial<Record<string, unknown>> = { ...loadConfig({ API_KEYS: SECRET_SAMPLES.API_KEYS!, [name]: value }) };
      // zod drops unknown keys: a misspelt name would not come back.
      expect(Object.keys(config), `${name} is a config key`).toContain(name);
      expect(String(config[name]), `${name} keeps its value`).toBe(value);
    }
    // Together they are a valid configuration too.
    expect(() => loadConfig(deploymentEnv)).not.toThrow();
  });

  test('sets what the container needs: all interfaces, a shutdown grace, and every tunable', () => {
    expect(Object.keys(deploymentEnv).sort()).toEqual(
      [
        'API_KEYS',
        'ARCHIVE_RETENTION_DAYS',
        'HOST',
        'LOG_LEVEL',
        'MAX_TOKENS_PER_USER',
        'METRICS_PORT',
        'MONGODB_DB',
        'MONGODB_URI',
        'PORT',
        'SHUTDOWN_GRACE_MS',
      ] satisfies (keyof Config)[],
    );
    expect(deploymentConfig.HOST).toBe('0.0.0.0');
  });

  test('MONGODB_URI comes from the Secret auth-token-service-mongodb, key uri (never the embedded mongod)', () => {
    const uri = env.find((v) => v.name === 'MONGODB_URI');
    expect(uri?.value).toBeUndefined();
    expect(uri?.valueFrom).toEqual({ secretKeyRef: { name: 'auth-token-service-mongodb', key: 'uri' } });
  });

  test('API keys, which a service bound beyond loopback must have, come from the Secret auth-token-service-api-keys', () => {
    const keys = env.find((v) => v.name === 'API_KEYS');
    expect(keys?.value).toBeUndefined();
    expect(keys?.valueFrom).toEqual({ secretKeyRef: { name: 'auth-token-service-api-keys', key: 'entries' } });
    expect(deploymentConfig.apiKeys.map((k) => k.name)).toEqual(['login-backend', 'chat-gateway']);
    // Without them the service would refuse to start on 0.0.0.0.
    expect(() => loadConfig({ ...deploymentEnv, API_KEYS: '' })).toThrow(ConfigError);
  });

  test('no TLS in the pod: the kubelet gRPC probes and the image HEALTHCHECK speak plaintext', () => {
    expect([deploymentConfig.TLS_CERT_FILE, deploymentConfig.TLS_KEY_FILE, deploymentConfig.TLS_CLIENT_CA_FILE]).toEqual([
      undefined,
      undefined,
      undefined,
    ]);
  });

  test('container ports are the config defaults, named grpc and metrics, and what the process binds', () => {
    expect(container.ports?.map((p) => [p.name, p.containerPort])).toEqual([
      ['grpc', DEFAULTS.PORT],
      ['metrics', DEFAULTS.METRICS_PORT],
    ]);
    expect(containerPort('grpc')).toBe(deploymentConfig.PORT);
    expect(containerPort('metrics')).toBe(deploymentConfig.METRICS_PORT);
  });

  test('startup and readiness probe the readiness service over native gRPC', () => {
    for (const probe of [container.startupProbe, container.readinessProbe]) {
      expect(probe?.grpc).toEqual({ port: deploymentConfig.PORT, service: READINESS_SERVICE });
      expect([probe?.httpGet, probe?.tcpSocket, probe?.exec]).toEqual([undefined, undefined, undefined]);
    }
  });

  test('liveness probes the whole server (""), which stays SERVING during a database outage', () => {
    const grpc = container.livenessProbe?.grpc;
    expect(grpc?.port).toBe(deploymentConfig.PORT);
    expect(grpc?.service ?? '').toBe(LIVENESS_SERVICE);
    expect(grpc?.service ?? '').not.toBe(READINESS_SERVICE);
  });

  test('the termination grace period covers preStop plus SHUTDOWN_GRACE_MS', () => {
    const preStopSeconds = container.lifecycle?.preStop?.sleep?.seconds;
    expect(preStopSeconds).toBeGreaterThan(0);
    expect(deploymentConfig.SHUTDOWN_GRACE_MS).toBe(20_000);
    const graceSeconds = podSpec.terminationGracePeriodSeconds;
    expect(graceSeconds).toBe(30);
    expect(graceSeconds! * 1000).toBeGreaterThan(deploymentConfig.SHUTDOWN_GRACE_MS + preStopSeconds! * 1000);
  });

  test('runs as uid 1000, non-root, read-only, without privileges or capabilities', () => {
    expect(podSpec.securityContext).toMatchObject({
      runAsNonRoot: true,
      runAsUser: 1000,
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(container.securityContext).toMatchObject({
      runAsNonRoot: true,
      runAsUser: 1000,
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(container.securityContext?.capabilities?.add).toBeUndefined();
    expect(container.securityContext?.privileged).toBeUndefined();
  });

  test('requests and limits CPU and memory, requests within limits', () => {
    const { requests, limits } = container.resources ?? {};
    for (const resource of ['cpu', 'memory'] as const) {
      const request = quantity(requests?.[resource]);
      const limit = quantity(limits?.[resource]);
      expect(request, `requests.${resource}`).toBeGreaterThan(0);
      expect(limit, `limits.${resource}`).toBeGreaterThan(0);
      expect(request, `requests.${resource} <= limits.${resource}`).toBeLessThanOrEqual(limit);
    }
  });

  test('Prometheus scrape annotations point at the metrics port and /metrics', () => {
    expect(deployment.spec.template.metadata.annotations).toMatchObject({
      'prometheus.io/scrape': 'true',
      'prometheus.io/port': String(deploymentConfig.METRICS_PORT),
      'prometheus.io/path': '/metrics',
    });
  });
});

describe('Service', () => {
  test('is a ClusterIP Service selecting the Deployment’s pods', () => {
    expect(service.spec.type).toBe('ClusterIP');
    expect(selects(service.spec.selector, podLabels)).toBe(true);
  });

  test('exposes grpc (appProtocol grpc) and metrics on the config ports, targeting the container ports', () => {
    const target = (t: number | string) => (typeof t === 'number' ? t : containerPort(t));
    expect(service.spec.ports.map((p) => [p.name, p.port, target(p.targetPort), p.appProtocol])).toEqual([
      ['grpc', DEFAULTS.PORT, DEFAULTS.PORT, 'grpc'],
      ['metrics', DEFAULTS.METRICS_PORT, DEFAULTS.METRICS_PORT, 'http'],
    ]);
  });
});

describe('PodDisruptionBudget', () => {
  test('selects the Deployment’s pods', () => {
    expect(selects(pdb.spec.selector.matchLabels, podLabels)).toBe(true);
    expect(pdb.spec.selector.matchLabels).toEqual(deployment.spec.selector.matchLabels);
  });

  test('lets exactly one replica go at a time', () => {
    const { minAvailable, maxUnavailable } = pdb.spec;
    // One of the two, never both; as a number, leaving room for a drain to proceed.
    expect([minAvailable === undefined, maxUnavailable === undefined].filter(Boolean)).toHaveLength(1);
    if (maxUnavailable !== undefined) expect(maxUnavailable).toBe(1);
    else expect(minAvailable).toBe(deployment.spec.replicas - 1);
  });
});
