// What the deployment checks (manifests.test.ts, dockerfile.test.ts) read: the facts of the code the
// artefacts must agree with, and the Kubernetes manifests of deploy/kubernetes/, loaded and typed
// as far as the checks read them, with the Deployment's container and environment picked out.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { AuthTokenServiceService } from '../../gen/authtoken/v1/auth_token_service';
import { loadConfig } from '../../src/config';
import { generateApiKey, keyEntry } from '../../src/domain/api-keys';
import { serveCommand } from '../support/serve-command';

export const ROOT = join(__dirname, '..', '..');
const MANIFEST_DIR = join(ROOT, 'deploy', 'kubernetes');

// ---------------------------------------------------------------------------------------------
// What the code says.

export const DEFAULTS = loadConfig({});
/** authtoken.v1.AuthTokenService, from '/authtoken.v1.AuthTokenService/CreateAuthToken'. */
export const READINESS_SERVICE = AuthTokenServiceService.createAuthToken.path.split('/')[1]!;
export const LIVENESS_SERVICE = '';
const PACKAGE = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string; scripts: Record<string, string> };
export const PACKAGE_VERSION = PACKAGE.version;
/** How the service runs in production, heap flags and allocator setting included: `npm run serve`. */
export const SERVE = serveCommand();
/** Valid values for the variables the Deployment takes from Secrets. */
export const SECRET_SAMPLES: Record<string, string> = {
  MONGODB_URI: 'mongodb://mongo-0.mongo:27017,mongo-1.mongo:27017,mongo-2.mongo:27017/?replicaSet=rs0',
  API_KEYS: [keyEntry('login-backend', 'auth_only', generateApiKey()), keyEntry('chat-gateway', 'validate', generateApiKey())].join('\n'),
};

// ---------------------------------------------------------------------------------------------
// The manifests, typed as far as these checks read them.

export type Labels = Record<string, string>;
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
export type Manifest = (Deployment | Service | PodDisruptionBudget) & { file: string };

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

export const MANIFESTS = loadManifests();
function only<K extends Manifest['kind']>(kind: K): Extract<Manifest, { kind: K }> {
  const found = MANIFESTS.filter((m): m is Extract<Manifest, { kind: K }> => m.kind === kind);
  expect(found.map((m) => m.metadata.name), `exactly one ${kind}`).toEqual(['auth-token-service']);
  return found[0]!;
}
export const deployment = only('Deployment');
export const service = only('Service');
export const pdb = only('PodDisruptionBudget');
export const podSpec = deployment.spec.template.spec;
export const podLabels = deployment.spec.template.metadata.labels ?? {};
export const container = podSpec.containers[0]!;
export const env = container.env ?? [];
/** The Deployment's environment, with sample values standing in for the Secrets. */
export const deploymentEnv: Record<string, string> = Object.fromEntries(
  env.map((v) => [v.name, v.value ?? SECRET_SAMPLES[v.name] ?? '']),
);
/** What the process in the Deployment would run with (the defaults if that is invalid: a test in manifests.test.ts fails then). */
export const deploymentConfig = (() => {
  try {
    return loadConfig(deploymentEnv);
  } catch {
    return DEFAULTS;
  }
})();

export function containerPort(name: string): number | undefined {
  return container.ports?.find((p) => p.name === name)?.containerPort;
}
export function selects(selector: Labels, labels: Labels): boolean {
  return Object.keys(selector).length > 0 && Object.entries(selector).every(([k, v]) => labels[k] === v);
}
