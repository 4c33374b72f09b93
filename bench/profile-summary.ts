// Summarises a V8 .cpuprofile (node --cpu-prof): the hottest functions by self time, the time per
// package (grpc-js, mongodb, bson, pino, the service's own src/, node internals, GC), and a folded
// stacks file for flame graphs (speedscope.app or flamegraph.pl read it as is).
//
//   npx tsx bench/profile-summary.ts <file.cpuprofile> [--top 25] [--folded out.folded]
import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileSummary {
  totalMs: number;
  /** Time not idle: what the process spent working. */
  busyMs: number;
  top: { name: string; location: string; selfMs: number; selfPct: number }[];
  byPackage: { name: string; selfMs: number; selfPct: number }[];
}

/** What a script URL belongs to: a package, the service's code, or Node itself. */
export function packageOf(url: string, functionName: string): string {
  if (!url) {
    if (functionName === '(garbage collector)') return '(garbage collector)';
    if (functionName === '(idle)') return '(idle)';
    if (functionName === '(program)') return '(program: native, not JS)';
    return '(native)';
  }
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + 'node_modules/'.length).split('/');
    return rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]!;
  }
  if (url.startsWith('node:')) return 'node internals';
  const dist = url.indexOf('/dist/');
  if (dist >= 0) {
    const path = url.slice(dist + '/dist/'.length);
    return path.startsWith('gen/') ? 'gen/ (ts-proto codecs)' : path.split('/').slice(0, 2).join('/');
  }
  return url;
}

function locationOf(frame: CallFrame): string {
  const url = frame.url.replace(/^file:\/\//, '');
  const short = url.includes('node_modules/')
    ? url.slice(url.lastIndexOf('node_modules/') + 'node_modules/'.length)
    : url.includes('/dist/')
      ? url.slice(url.indexOf('/dist/') + 1)
      : url;
  return short ? `${short}:${frame.lineNumber + 1}` : '';
}

export function summarise(profile: CpuProfile, topN = 25): ProfileSummary & { folded: string } {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const selfUs = new Map<number, number>();
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i]!;
    selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  }
  const totalUs = [...selfUs.values()].reduce((a, b) => a + b, 0);
  let idleUs = 0;
  const byFunction = new Map<string, { name: string; location: string; us: number }>();
  const byPackage = new Map<string, number>();
  const folded = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const frame = byId.get(id)!.callFrame;
    if (frame.functionName === '(idle)') {
      idleUs += us;
      continue;
    }
    const location = locationOf(frame);
    const key = `${frame.functionName}@${location}`;
    const entry = byFunction.get(key) ?? { name: frame.functionName || '(anonymous)', location, us: 0 };
    entry.us += us;
    byFunction.set(key, entry);
    const pkg = packageOf(frame.url, frame.functionName);
    byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + us);
    // Folded stack: root;...;leaf <microseconds>
    const stack: string[] = [];
    for (let n: number | undefined = id; n !== undefined; n = parent.get(n)) {
      const f = byId.get(n)!.callFrame;
      if (f.functionName === '(root)') break;
      stack.push(`${f.functionName || '(anonymous)'} ${locationOf(f)}`.trim().replace(/;/g, ','));
    }
    const line = stack.reverse().join(';');
    folded.set(line, (folded.get(line) ?? 0) + us);
  }
  const busyUs = totalUs - idleUs;
  const pct = (us: number) => (busyUs > 0 ? (100 * us) / busyUs : 0);
  return {
    totalMs: totalUs / 1000,
    busyMs: busyUs / 1000,
    top: [...byFunction.values()]
      .sort((a, b) => b.us - a.us)
      .slice(0, topN)
      .map((f) => ({ name: f.name, location: f.location, selfMs: f.us / 1000, selfPct: pct(f.us) })),
    byPackage: [...byPackage.entries()]
      .sort((a, b) => b[1] - a[1])
      .map(([name, us]) => ({ name, selfMs: us / 1000, selfPct: pct(us) })),
    folded: [...folded.entries()].map(([stack, us]) => `${stack} ${Math.round(us)}`).join('\n') + '\n',
  };
}

export function formatSummary(summary: ProfileSummary): string {
  const lines = [
    `profile: ${(summary.totalMs / 1000).toFixed(1)} s sampled, ${(summary.busyMs / 1000).toFixed(1)} s busy (not idle); shares below are of busy time`,
    '',
    'self time by package:',
    ...summary.byPackage.slice(0, 15).map((p) => `  ${p.selfPct.toFixed(1).padStart(5)}%  ${p.selfMs.toFixed(0).padStart(7)} ms  ${p.name}`),
    '',
    'hottest functions (self time):',
    ...summary.top.map((f) => `  ${f.selfPct.toFixed(1).padStart(5)}%  ${f.selfMs.toFixed(0).padStart(7)} ms  ${f.name}  ${f.location}`),
  ];
  return lines.join('\n');
}

if (require.main === module) {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { top: { type: 'string', default: '25' }, folded: { type: 'string' } },
  });
  const file = positionals[0];
  if (!file) {
    console.error('usage: tsx bench/profile-summary.ts <file.cpuprofile> [--top 25] [--folded out.folded]');
    process.exit(2);
  }
  const summary = summarise(JSON.parse(readFileSync(file, 'utf8')) as CpuProfile, Number(values.top));
  console.log(formatSummary(summary));
  if (values.folded) {
    writeFileSync(values.folded, summary.folded);
    console.log(`\nfolded stacks: ${values.folded} (open in https://www.speedscope.app or flamegraph.pl)`);
  }
}
