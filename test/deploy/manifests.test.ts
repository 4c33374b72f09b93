// The deployment artefacts (Dockerfile, deploy/kubernetes/*.yaml) must agree with the code: the
// ports and environment variables of src/config.ts, the health service names of the generated
// service definitions, the shutdown grace period, and the path the compiled entry point runs from.
import { readFileSync, readdirSync } from 'node:fs';
import { join, posix } from 'node:path';
import { describe, expect, test } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { AuthTokenServiceService } from '../../gen/authtoken/v1/auth_token_service';
import { type Config, ConfigError, loadConfig } from '../../src/config';
import { generateApiKey, keyEntry } from '../../src/domain/api-keys';
import { serveCommand } from '../support/serve-command';

const ROOT = join(__dirname, '..', '..');
const MANIFEST_DIR = join(ROOT, 'deploy', 'kubernetes');

// ---------------------------------------------------------------------------------------------
// What the code says.

const DEFAULTS = loadConfig({});
/** authtoken.v1.AuthTokenService, from '/authtoken.v1.AuthTokenService/CreateAuthToken'. */
const READINESS_SERVICE = AuthTokenServiceService.createAuthToken.path.split('/')[1]!;
const LIVENESS_SERVICE = '';
const PACKAGE = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string; scripts: Record<string, string> };
const PACKAGE_VERSION = PACKAGE.version;
/** How the service runs in production, heap flags and allocator setting included: `npm run serve`. */
const SERVE = serveCommand();
/** Valid values for the variables the Deployment takes from Secrets. */
const SECRET_SAMPLES: Record<string, string> = {
  MONGODB_URI: 'mongodb://mongo-0.mongo:27017,mongo-1.mongo:27017,mongo-2.mongo:27017/?replicaSet=rs0',
  API_KEYS: [keyEntry('login-backend', 'auth_only', generateApiKey()), keyEntry('chat-gateway', 'validate', generateApiKey())].join('\n'),
};

// ---------------------------------------------------------------------------------------------
// The manifests, typed as far as these checks read them.

type Labels = Record<string, string>;
interface Metadata {
  name: string;
  labels?: Labels;
  annotations?: Record<string, string>;
}
interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { secretKeyRef?: { name: string; key: string } };
}
interface Probe {
  grpc?: { port: number; service?: string };
  httpGet?: unknown;
  tcpSocket?: unknown;
  exec?: unknown;
}
interface SecurityContext {
  runAsNonRoot?: boolean;
  runAsUser?: number;
  readOnlyRootFilesystem?: boolean;
  allowPrivilegeEscalation?: boolean;
  capabilities?: { drop?: string[]; add?: string[] };
  seccompProfile?: { type: string };
  privileged?: boolean;
}
interface Quantities {
  cpu?: string | number;
  memory?: string | number;
}
interface Container {
  name: string;
  image: string;
  ports?: { name?: string; containerPort: number; protocol?: string }[];
  env?: EnvVar[];
  startupProbe?: Probe;
  readinessProbe?: Probe;
  livenessProbe?: Probe;
  lifecycle?: { preStop?: { sleep?: { seconds: number } } };
  resources?: { requests?: Quantities; limits?: Quantities };
  securityContext?: SecurityContext;
}
interface Deployment {
  apiVersion: string;
  kind: 'Deployment';
  metadata: Metadata;
  spec: {
    replicas: number;
    selector: { matchLabels: Labels };
    template: {
      metadata: Metadata;
      spec: {
        terminationGracePeriodSeconds?: number;
        securityContext?: SecurityContext;
        containers: Container[];
      };
    };
  };
}
interface Service {
  apiVersion: string;
  kind: 'Service';
  metadata: Metadata;
  spec: {
    type?: string;
    selector: Labels;
    ports: { name: string; port: number; targetPort: number | string; protocol?: string; appProtocol?: string }[];
  };
}
interface PodDisruptionBudget {
  apiVersion: string;
  kind: 'PodDisruptionBudget';
  metadata: Metadata;
  spec: { minAvailable?: number | string; maxUnavailable?: number | string; selector: { matchLabels: Labels } };
}
type Manifest = (Deployment | Service | PodDisruptionBudget) & { file: string };

function loadManifests(): Manifest[] {
  const manifests: Manifest[] = [];
  for (const file of readdirSync(MANIFEST_DIR).filter((f) => /\.ya?ml$/.test(f)).sort()) {
    for (const document of parseAllDocuments(readFileSync(join(MANIFEST_DIR, file), 'utf8'))) {
      expect(document.errors, `${file}: YAML errors`).toEqual([]);
      const object = document.toJS() as Manifest | null;
      if (object !== null) manifests.push({ ...object, file });
    }
  }
  return manifests;
}

const MANIFESTS = loadManifests();
function only<K extends Manifest['kind']>(kind: K): Extract<Manifest, { kind: K }> {
  const found = MANIFESTS.filter((m): m is Extract<Manifest, { kind: K }> => m.kind === kind);
  expect(found.map((m) => m.metadata.name), `exactly one ${kind}`).toEqual(['auth-token-service']);
  return found[0]!;
}
const deployment = only('Deployment');
const service = only('Service');
const pdb = only('PodDisruptionBudget');
const podSpec = deployment.spec.template.spec;
const podLabels = deployment.spec.template.metadata.labels ?? {};
const container = podSpec.containers[0]!;
const env = container.env ?? [];
/** The Deployment's environment, with sample values standing in for the Secrets. */
const deploymentEnv: Record<string, string> = Object.fromEntries(
  env.map((v) => [v.name, v.value ?? SECRET_SAMPLES[v.name] ?? '']),
);
/** What the process in the Deployment would run with (the defaults if that is invalid: a test below fails then). */
const deploymentConfig = (() => {
  try {
    return loadConfig(deploymentEnv);
  } catch {
    return DEFAULTS;
  }
})();

function containerPort(name: string): number | undefined {
  return container.ports?.find((p) => p.name === name)?.containerPort;
}
function selects(selector: Labels, labels: Labels): boolean {
  return Object.keys(selector).length > 0 && Object.entries(selector).every(([k, v]) => labels[k] === v);
}
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

// ---------------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------------
// The Dockerfile, read as a list of instructions per stage.

interface Instruction {
  keyword: string;
  args: string;
}
interface Stage {
  from: string;
  name: string | undefined;
  instructions: Instruction[];
}

function parseDockerfile(text: string): Stage[] {
  // Join continuation lines, drop comments (and parser directives) and blank lines.
  const lines: string[] = [];
  let pending = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (pending === '' && (line === '' || line.startsWith('#'))) continue;
    if (pending !== '' && line.startsWith('#')) continue;
    if (line.endsWith('\\')) {
      pending += `${line.slice(0, -1).trim()} `;
      continue;
    }
    lines.push((pending + line).trim());
    pending = '';
  }
  if (pending !== '') lines.push(pending.trim());

  const stages: Stage[] = [];
  for (const line of lines) {
    const [, keyword = '', args = ''] = /^(\S+)\s*(.*)$/.exec(line) ?? [];
    if (keyword.toUpperCase() === 'FROM') {
      const [from = '', as, name] = args.replace(/--platform=\S+\s+/, '').split(/\s+/);
      stages.push({ from, name: as?.toUpperCase() === 'AS' ? name : undefined, instructions: [] });
    } else {
      expect(stages.length, `${line} comes after a FROM`).toBeGreaterThan(0);
      stages.at(-1)!.instructions.push({ keyword: keyword.toUpperCase(), args });
    }
  }
  return stages;
}

const dockerfileText = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
const stages = parseDockerfile(dockerfileText);
const runtime = stages.at(-1)!;
const all = (stage: Stage, keyword: string) => stage.instructions.filter((i) => i.keyword === keyword).map((i) => i.args);
const last = (stage: Stage, keyword: string) => all(stage, keyword).at(-1);
/** ENV k=v pairs of a stage (the k=v form only). */
function stageEnv(stage: Stage): Record<string, string> {
  return Object.fromEntries(
    all(stage, 'ENV').flatMap((args) =>
      [...args.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=("[^"]*"|\S*)/g)].map((m) => [m[1]!, m[2]!.replace(/^"|"$/g, '')]),
    ),
  );
}
const workdir = last(runtime, 'WORKDIR') ?? '/';
/** COPY instructions of a stage: --from, sources, destination resolved against WORKDIR. */
function copies(stage: Stage) {
  return all(stage, 'COPY').map((args) => {
    const words = args.split(/\s+/);
    const from = words.find((w) => w.startsWith('--from='))?.slice('--from='.length);
    const paths = words.filter((w) => !w.startsWith('--'));
    const destination = posix.resolve(workdir, paths.at(-1)!);
    const sources = paths.slice(0, -1);
    // A destination naming a folder (trailing /) receives the sources under their own names.
    const targets = paths.at(-1)!.endsWith('/') ? sources.map((s) => posix.join(destination, posix.basename(s))) : [destination];
    return { from, sources, targets };
  });
}

describe('Dockerfile', () => {
  test('the runtime stage is Node 24 (the current LTS) and the build stage runs on the same image', () => {
    expect(runtime.from).toMatch(/^node:24(-|$)/);
    const build = stages.find((s) => s.instructions.some((i) => i.keyword === 'RUN' && /npm run build/.test(i.args)));
    expect(build?.from).toBe(runtime.from);
    expect(all(build!, 'RUN').join('\n')).toMatch(/npm ci[\s\S]*npm run build[\s\S]*npm prune --omit=dev/);
  });

  test('runs as the non-root user node (uid 1000, the runAsUser of the Deployment)', () => {
    const user = last(runtime, 'USER');
    expect(user).toBe('node');
    expect(podSpec.securityContext?.runAsUser).toBe(1000);
  });

  test('the exec-form CMD runs the compiled entry point from WORKDIR, next to dist/ and gen/, as `npm run serve` does', () => {
    expect(JSON.parse(last(runtime, 'CMD') ?? 'null')).toEqual(['node', ...SERVE.nodeFlags, SERVE.entry]);
    expect(stageEnv(runtime)).toMatchObject(SERVE.env);
    expect(all(runtime, 'ENTRYPOINT')).toEqual([]);
    expect(workdir).toBe('/app');
    const targets = copies(runtime).flatMap((c) => c.targets);
    expect(targets).toContain(posix.join(workdir, 'dist'));
    expect(targets).toContain(posix.join(workdir, 'node_modules'));
    expect(targets).toContain(posix.join(workdir, 'package.json'));
  });

  test('copies gen/descriptor.binpb to <WORKDIR>/gen/, where reflection finds it from dist/src/', () => {
    const descriptor = copies(runtime).find((c) => c.sources.some((s) => s.endsWith('gen/descriptor.binpb')));
    expect(descriptor?.targets).toEqual([posix.join(workdir, 'gen', 'descriptor.binpb')]);
  });

  test('sets production, all interfaces and the config default ports', () => {
    expect(stageEnv(runtime)).toMatchObject({
      NODE_ENV: 'production',
      HOST: '0.0.0.0',
      PORT: String(DEFAULTS.PORT),
      METRICS_PORT: String(DEFAULTS.METRICS_PORT),
    });
  });

  test('EXPOSEs the gRPC and metrics ports', () => {
    const exposed = all(runtime, 'EXPOSE')
      .flatMap((args) => args.split(/\s+/))
      .map((p) => Number(p.replace(/\/tcp$/, '')));
    expect(exposed.sort()).toEqual([DEFAULTS.PORT, DEFAULTS.METRICS_PORT].sort());
  });

  test('HEALTHCHECK runs grpc_health_probe against the readiness service', () => {
    const healthcheck = last(runtime, 'HEALTHCHECK') ?? '';
    const command = /CMD\s+(\[.*\])\s*$/.exec(healthcheck)?.[1];
    expect(JSON.parse(command ?? 'null')).toEqual([
      'grpc_health_probe',
      `-addr=127.0.0.1:${DEFAULTS.PORT}`,
      `-service=${READINESS_SERVICE}`,
    ]);
  });

  test('grpc_health_probe v0.4.40 is built with go install into /usr/local/bin, never downloaded', () => {
    const probe = stages.find((s) => s.from.startsWith('golang:'));
    expect(probe?.from).toBe('golang:1.26-bookworm');
    expect(stageEnv(probe!).CGO_ENABLED).toBe('0');
    expect(all(probe!, 'RUN').join('\n')).toMatch(/go install .*github\.com\/grpc-ecosystem\/grpc-health-probe@v0\.4\.40/);
    const copied = copies(runtime).find((c) => c.from === probe!.name);
    expect(copied).toEqual({ from: probe!.name, sources: ['/go/bin/grpc-health-probe'], targets: ['/usr/local/bin/grpc_health_probe'] });
    expect(dockerfileText).not.toMatch(/releases\/download|\bcurl\b|\bwget\b|^\s*ADD\s+https?:/im);
  });

  test('.dockerignore keeps local builds and data out, and the build inputs in', () => {
    const ignored = readFileSync(join(ROOT, '.dockerignore'), 'utf8')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l !== '' && !l.startsWith('#'));
    expect(ignored).toEqual(expect.arrayContaining(['node_modules', 'dist', '.data', '.git']));
    for (const needed of ['src', 'gen', 'package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json']) {
      expect(ignored.filter((pattern) => pattern.replace(/\/$/, '') === needed || pattern === '*')).toEqual([]);
    }
  });
});
