// The Dockerfile (and .dockerignore) must agree with the code and the Deployment: the Node version,
// the non-root user, the path the compiled entry point runs from (as `npm run serve` runs it), the
// config default ports, and the health probe built from source. The facts it is checked against
// come from ./artefacts.ts, shared with manifests.test.ts.
import { readFileSync } from 'node:fs';
import { join, posix } from 'node:path';
import { describe, expect, test } from 'vitest';
import { DEFAULTS, podSpec, READINESS_SERVICE, ROOT, SERVE } from './artefacts';

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
