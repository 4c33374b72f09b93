// The report: ratios to the baselines, verdicts against the targets, and the figures written as
// latest.json, latest.md (and latest.png) and printed as tables.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { GO_TOOLS } from '../scripts/go-tools';
import { loadConfig } from '../src/config';
import { fmt, fmtRps, ratio, round } from './lib/numbers';
import { log } from './lib/output';
import { productionNodeFlags, REPO_ROOT } from './lib/processes';
import type { ResultsPlacement, Settings, Single, Workload } from './settings';
import { LABEL, WORKLOADS } from './settings';
import type { FanoutFigures } from './fanout';
import type { SoakFigures } from './soak';
import { type DataSizeFigures, type Measured, MIX_SHARES, type TargetFigures, VALIDATE_WARMUP_PASSES } from './workloads';

const TARGETS = {
  validateVsNoop: 0.85,
  createVsRaw: 0.7,
  createVsTransaction: 3,
  listVsRaw: 0.7,
  validateUncachedVsRaw: 0.8,
  dataSizeP50: 1.2,
  rssMb: 200,
  /** "No growth": the least-squares growth over the last half of the soak, in MB. */
  soakGrowthMb: 5,
  fanoutP99Ms: 250,
  fanoutRssMb: 250,
};

export interface Results {
  meta: Record<string, unknown>;
  messageSizes?: Record<string, number>;
  workloads: Partial<Record<Workload, TargetFigures & { ratios: Record<string, number | null> }>>;
  dataSize?: DataSizeFigures;
  fanout?: FanoutFigures;
  rss?: { serviceRssAtEndMb: number | null; servicePeakMb: number | null; anonAtEndMb: number | null; fileAtEndMb: number | null; samples: { t: number; rssMb: number }[] };
  soak?: SoakFigures;
  verdicts?: ReturnType<typeof verdicts>;
}

function verdicts(results: Results) {
  const out: { target: string; value: number | null; threshold: string; pass: boolean | null; note?: string }[] = [];
  /** The service's throughput against a baseline's, at least `min` times it. */
  const throughput = (target: string, service: number, baseline: number | undefined, min: number) => {
    const value = ratio(service, baseline);
    out.push({ target, value, threshold: `>= ${min}x`, pass: pass(value, (x) => x >= min) });
  };
  const v = results.workloads.validate;
  if (v) throughput('Validate throughput vs no-op server', v.service.rps, v.noop?.rps, TARGETS.validateVsNoop);
  const c = results.workloads.create;
  if (c) throughput('Create-at-cap throughput vs raw driver (the same writes)', c.service.rps, c.raw?.rps, TARGETS.createVsRaw);
  if (c?.rawTransaction) throughput('Create-at-cap throughput vs the transaction design (raw driver)', c.service.rps, c.rawTransaction.rps, TARGETS.createVsTransaction);
  const l = results.workloads.list;
  if (l) throughput('List (100 tokens) throughput vs raw driver', l.service.rps, l.raw?.rps, TARGETS.listVsRaw);
  const d = results.dataSize;
  if (d?.small.raw) throughput('Validate throughput, cache off, vs raw driver', d.small.service.rps, d.small.raw.rps, TARGETS.validateUncachedVsRaw);
  if (d) out.push({ target: `Validate p50 at ${d.usersLarge} users vs ${d.usersSmall} users`, value: d.p50Ratio, threshold: `<= ${TARGETS.dataSizeP50}x`, pass: pass(d.p50Ratio, (x) => x <= TARGETS.dataSizeP50), note: d.usersLarge < 100_000 ? `only ${d.usersLarge} users (not the 100,000 of the target)` : undefined });
  const f = results.fanout;
  if (f) {
    out.push({ target: `Event delivery p99, ${f.subscribers} subscribers (ms)`, value: f.deliveryP99Ms, threshold: `<= ${TARGETS.fanoutP99Ms}`, pass: pass(f.deliveryP99Ms, (x) => x <= TARGETS.fanoutP99Ms && f.missing === 0), note: f.missing > 0 ? `${f.missing} deliveries missing` : undefined });
    out.push({ target: 'Service RSS during the fan-out (MB)', value: f.serviceRssPeakMb, threshold: `<= ${TARGETS.fanoutRssMb}`, pass: pass(f.serviceRssPeakMb, (x) => x <= TARGETS.fanoutRssMb) });
  }
  const s = results.soak;
  if (s) {
    out.push({ target: `Service RSS after ${s.targetCalls} calls (MB)`, value: s.rssAfterTargetCallsMb, threshold: `<= ${TARGETS.rssMb}`, pass: pass(s.rssAfterTargetCallsMb, (x) => x <= TARGETS.rssMb), note: `soak of ${s.date}${s.targetCalls < 1_000_000 ? `; only ${s.targetCalls} calls, not 1M` : ''}` });
    out.push({ target: `RSS growth over the last half of the ${s.minutes}-min soak (MB)`, value: s.lastHalfGrowthMb, threshold: `<= ${TARGETS.soakGrowthMb} (least squares)`, pass: pass(s.lastHalfGrowthMb, (x) => x <= TARGETS.soakGrowthMb), note: s.minutes! < 10 ? `only ${s.minutes} min, not 10` : undefined });
  }
  return out;
}

function pass(value: number | null, test: (x: number) => boolean): boolean | null {
  return value === null ? null : test(value);
}

/**
 * A model, not a measurement: if one call cost exactly a no-op gRPC call plus the raw driver's
 * operations, run back to back on the same CPU, throughput would be 1 / (1/noop + 1/raw).
 */
function composedRps(f: TargetFigures): number | undefined {
  return f.noop?.rps && f.raw?.rps ? 1 / (1 / f.noop.rps + 1 / f.raw.rps) : undefined;
}

export function ratiosOf(f: TargetFigures): Record<string, number | null> {
  return {
    rpsVsComposed: ratio(f.service.rps, composedRps(f)),
    rpsVsNoop: ratio(f.service.rps, f.noop?.rps),
    rpsVsRaw: ratio(f.service.rps, f.raw?.rps),
    p50VsNoop: ratio(f.service.p50Ms, f.noop?.p50Ms),
    p50VsRaw: ratio(f.service.p50Ms, f.raw?.p50Ms),
    p99VsNoop: ratio(f.service.p99Ms, f.noop?.p99Ms),
    p99VsRaw: ratio(f.service.p99Ms, f.raw?.p99Ms),
  };
}

// ---------------------------------------------------------------------------------------------
// What the figures were measured on and with

export const loadAverage = () => loadavg().map((x) => x.toFixed(2)).join(' ');

/** The run's `meta`: the machine, the versions, the settings. */
export function runMeta(settings: Settings, run: { mongodVersion: string; loadavgStart: string; official: boolean }): Results['meta'] {
  return {
    date: new Date().toISOString(),
    cores: cpus().length,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    memoryGb: round(Number(sh('awk', ['/MemTotal/ {print $2}', '/proc/meminfo'])) / 1024 / 1024, 1),
    node: process.version,
    mongod: run.mongodVersion,
    ghz: GO_TOOLS.ghz.split('@')[1],
    grpcJs: packageVersion('@grpc/grpc-js'),
    mongodbDriver: packageVersion('mongodb'),
    concurrency: settings.concurrency,
    durationS: settings.durationS,
    warmupS: settings.warmupS,
    repeat: settings.repeat,
    logLevel: settings.logLevel,
    nodeFlags: productionNodeFlags().join(' '),
    apiKey: settings.apiKey,
    tokensPerUser: settings.tokensPerUser,
    quick: settings.quick,
    dataset: `${settings.usersSmall} users × ${settings.tokensPerUser} tokens for Validate/List (${settings.validateSample} sample tokens), plus ${settings.createUsers} users at the cap for Create`,
    loadavgStart: run.loadavgStart,
    loadavgEnd: loadAverage(),
    sharedMachine: process.env.BENCH_NOTE ?? '',
    official: run.official,
  };
}

function sh(command: string, args: string[]): string {
  try {
    return execFileSync(command, args, { encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}

function packageVersion(name: string): string {
  try {
    return (JSON.parse(readFileSync(join(REPO_ROOT, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

// ---------------------------------------------------------------------------------------------
// latest.md

function markdown(results: Results): string {
  const lines = [
    ...markdownSetup(results.meta),
    ...markdownVerdicts(results),
    ...markdownWorkloads(results),
    ...markdownCosts(results),
    ...(results.fanout ? markdownFanout(results.fanout) : []),
    ...(results.dataSize ? markdownDataSize(results.dataSize) : []),
    ...markdownMemory(results),
  ];
  if (results.meta.plot) lines.push('', '![throughput and p99 per workload](latest.png)');
  return `${lines.join('\n')}\n`;
}

/** The title and how the figures were made: machine, versions, load, service, data. */
function markdownSetup(m: Results['meta']): string[] {
  const lines: string[] = [];
  lines.push('# Benchmark: current figures', '');
  lines.push(`Written by \`npm run bench\` (bench/run.ts) on ${m.date}. Regenerate rather than edit.`, '');
  lines.push(`- Machine: ${m.cores} cores (${m.cpuModel}), ${m.memoryGb} GB; load average at start ${m.loadavgStart}, at end ${m.loadavgEnd}${m.sharedMachine ? ` — ${m.sharedMachine}` : ''}`);
  lines.push(`- Node ${m.node}, mongod ${m.mongod} (single-node replica set, embedded, data in a temp folder), ghz ${m.ghz}, grpc-js ${m.grpcJs}, mongodb driver ${m.mongodbDriver}`);
  lines.push(`- ghz: concurrency ${m.concurrency}, duration ${m.durationS} s per run (warm-up ${m.warmupS} s; Validate: ${VALIDATE_WARMUP_PASSES} passes over every sample token first), 1 connection, insecure${Number(m.repeat) > 1 ? `; each workload run ${m.repeat} times per target, the median kept` : ''}`);
  lines.push(`- Service: \`node ${m.nodeFlags ? `${m.nodeFlags} ` : ''}dist/src/main.js\` (as \`npm run serve\`), validation cache on (its default, VALIDATION_CACHE_ENTRIES=10000), LOG_LEVEL=${m.logLevel} (at info, one access-log line per call would dominate the CPU profile), MAX_TOKENS_PER_USER=${m.tokensPerUser}, ${m.apiKey ? 'one API key (full scope) sent as `authorization: Bearer` on every call, to both gRPC targets' : 'no API keys'}; RATE_LIMIT_PER_KEY=1000000 and UID_CREATE_LIMIT_PER_MINUTE=100000 (limiters on, never reached)`);
  lines.push(`- Data: ${m.dataset}`);
  lines.push(`- Validate runs measure the steady state: every sample token was validated less than a minute before, so no call writes its last use (at most once per token per minute), and a call is a cache hit or one read (the "cache lookups" and "DB ops per call" columns show which).`);
  if (m.quick) lines.push('- **Quick mode** (smoke run): short durations and a smaller large data set; the figures are indicative only.');
  lines.push('');
  return lines;
}

function markdownVerdicts(results: Results): string[] {
  const lines = ['## Verdicts', '', '| target | measured | threshold | result |', '| --- | --- | --- | --- |'];
  for (const v of results.verdicts ?? []) {
    lines.push(`| ${v.target} | ${fmt(v.value)} | ${v.threshold} | ${v.pass === null ? 'n/a' : v.pass ? 'PASS' : '**MISS**'}${v.note ? ` (${v.note})` : ''} |`);
  }
  lines.push('');
  return lines;
}

/** Throughput and latency of each target, the ratios, and Validate with the cache off. */
function markdownWorkloads(results: Results): string[] {
  const lines: string[] = [];
  lines.push('## Throughput and latency per workload', '');
  lines.push('| workload | service rps | p50 ms | p99 ms | no-op rps | p50 | p99 | raw driver rps | p50 | p99 | rps vs no-op | rps vs raw | rps vs composed | p50 vs no-op | p50 vs raw |');
  lines.push('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const [w, f] of measuredWorkloads(results)) {
    lines.push(
      `| ${LABEL[w]} | ${fmtRps(f.service.rps)} | ${fmt(f.service.p50Ms)} | ${fmt(f.service.p99Ms)} | ${fmtRps(f.noop?.rps)} | ${fmt(f.noop?.p50Ms)} | ${fmt(f.noop?.p99Ms)} | ${fmtRps(f.raw?.rps)} | ${fmt(f.raw?.p50Ms)} | ${fmt(f.raw?.p99Ms)} | ${fmt(f.ratios.rpsVsNoop)} | ${fmt(f.ratios.rpsVsRaw)} | ${fmt(f.ratios.rpsVsComposed)} | ${fmt(f.ratios.p50VsNoop)} | ${fmt(f.ratios.p50VsRaw)} |`,
    );
  }
  const t = results.workloads.create?.rawTransaction;
  if (t) {
    const c = results.workloads.create!;
    lines.push(
      '',
      `Create at the cap, the design before (a transaction per create: read, capped push, archive insert, commit), by the raw driver: ${fmtRps(t.rps)} calls/s, p50 ${fmt(t.p50Ms)} ms, p99 ${fmt(t.p99Ms)} ms; driver CPU ${fmt(t.cpuMsPerCall, 3)} ms and mongod CPU ${fmt(t.mongodCpuMsPerCall, 3)} ms per call. The service is ${fmt(ratio(c.service.rps, t.rps))}x that.`,
    );
  }
  lines.push('');
  lines.push('"rps vs composed" compares with a model, not a measurement: the throughput a service would have if each call cost exactly one no-op gRPC call plus the raw driver\'s operations, back to back on the same CPU: 1 / (1/no-op + 1/raw). It is the ceiling for "a little more than the gRPC stack and the database by themselves".');
  const d0 = results.dataSize;
  const v0 = results.workloads.validate;
  if (d0 && v0?.noop) {
    lines.push('', `Validate with the cache off (the data-size run at ${d0.usersSmall.toLocaleString('en')} users, below): ${fmtRps(d0.small.service.rps)} calls/s, p50 ${fmt(d0.small.service.p50Ms)} ms: ${fmt(ratio(d0.small.service.rps, v0.noop.rps))}x the no-op server, ${fmt(ratio(d0.small.service.rps, d0.small.raw?.rps))}x the raw driver.`);
  }
  lines.push('');
  return lines;
}

/** CPU, cache lookups and database operations per call; the mix achieved; the response sizes. */
function markdownCosts(results: Results): string[] {
  const lines: string[] = [];
  lines.push('CPU per call (ms), validation cache lookups and database operations per call, measured run only:', '');
  lines.push('| workload | service CPU | no-op CPU | raw-driver CPU | mongod CPU (service run) | mongod CPU (raw run) | cache lookups/call (service run) | DB ops/call (service run) | machine busy % (service run) | CPU stolen by the host %: service / no-op / raw run |');
  lines.push('| --- | ---: | ---: | ---: | ---: | ---: | --- | --- | ---: | ---: |');
  for (const [w, f] of measuredWorkloads(results)) {
    const lookups = nonZeroCounts(f.service.cacheLookupsPerCall) || '–';
    lines.push(`| ${LABEL[w]} | ${fmt(f.service.cpuMsPerCall, 3)} | ${fmt(f.noop?.cpuMsPerCall, 3)} | ${fmt(f.raw?.cpuMsPerCall, 3)} | ${fmt(f.service.mongodCpuMsPerCall, 3)} | ${fmt(f.raw?.mongodCpuMsPerCall, 3)} | ${lookups} | ${nonZeroCounts(f.service.dbOpsPerCall)} | ${fmt(f.service.machineBusyPct, 0)} | ${[f.service, f.noop, f.raw].map((r) => fmt(r?.machineStolenPct, 0)).join(' / ')} |`);
  }
  const mix = results.workloads.mix;
  if (mix?.service.shares) {
    lines.push('', `Mix achieved (service): ${JSON.stringify(mix.service.shares)}; no-op: ${JSON.stringify(mix.noop?.shares)}; the raw driver draws 90/9/1 at random per operation.${offMix(mix.service.shares) ? ' **The service\'s mix is off 90/9/1 by more than 2 points (Create is the expensive call): compare its mix figures with care.**' : ''}`);
  }
  if (results.messageSizes) {
    lines.push('', `Response sizes (bytes, captured from the service and replayed by the no-op server): ${Object.entries(results.messageSizes).map(([k, v]) => `${k} ${v}`).join(', ')}.`);
  }
  return lines;
}

function markdownDataSize(d: DataSizeFigures): string[] {
  const lines: string[] = [];
  lines.push('', '## Data size: Validate at two sizes', '');
  lines.push(`Against a second service process with the validation cache off (VALIDATION_CACHE_ENTRIES=0), so that every call reads the database: with the cache on, both sizes would be answered from memory.`, '');
  lines.push(`${d.usersSmall.toLocaleString('en')} vs ${d.usersLarge.toLocaleString('en')} users × ${d.tokensPerUser} tokens; ${d.validateSample} sample tokens each (spread over ${Math.min(d.usersSmall, d.validateSample)} and ${Math.min(d.usersLarge, d.validateSample)} users). Seeding the extra ${(d.usersLarge - d.usersSmall).toLocaleString('en')} users took ${fmt(d.seedSeconds, 0)} s (${fmtRps(d.seedTokensPerSecond)} tokens/s).`, '');
  lines.push('| users | service rps | p50 ms | p99 ms | raw driver rps | p50 ms | p99 ms |', '| ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  lines.push(`| ${d.usersSmall} | ${fmtRps(d.small.service.rps)} | ${fmt(d.small.service.p50Ms)} | ${fmt(d.small.service.p99Ms)} | ${fmtRps(d.small.raw?.rps)} | ${fmt(d.small.raw?.p50Ms)} | ${fmt(d.small.raw?.p99Ms)} |`);
  lines.push(`| ${d.usersLarge} | ${fmtRps(d.large.service.rps)} | ${fmt(d.large.service.p50Ms)} | ${fmt(d.large.service.p99Ms)} | ${fmtRps(d.large.raw?.rps)} | ${fmt(d.large.raw?.p50Ms)} | ${fmt(d.large.raw?.p99Ms)} |`);
  lines.push('', `p50 ratio (large / small): service ${fmt(d.p50Ratio)}, raw driver ${fmt(d.rawP50Ratio)}.`);
  return lines;
}

/** The service's RSS at the end of this run, and the soak. */
function markdownMemory(results: Results): string[] {
  const lines: string[] = [];
  if (results.rss) {
    lines.push('', `## Memory`, '', `Service RSS at the end of the run: ${fmt(results.rss.serviceRssAtEndMb, 0)} MB (${fmt(results.rss.fileAtEndMb, 0)} MB file-backed, ${fmt(results.rss.anonAtEndMb, 0)} MB anonymous); peak (VmHWM): ${fmt(results.rss.servicePeakMb, 0)} MB.`);
  }
  const s = results.soak;
  if (s) {
    lines.push('', `## Soak (${s.date})`, '', `${s.minutes} min of the 90/9/1 mix, ${s.calls.toLocaleString('en')} calls: RSS after ${s.targetCalls.toLocaleString('en')} calls ${fmt(s.rssAfterTargetCallsMb, 0)} MB, max ${fmt(s.rssMaxMb, 0)} MB, peak (VmHWM) ${fmt(s.peakRssMb, 0)} MB; last-half slope ${fmt(s.lastHalfSlopeMbPerMin, 3)} MB/min (${fmt(s.lastHalfGrowthMb, 1)} MB over the last half).`);
    if (s.last) lines.push('', `At the end: RSS ${fmt(s.last.rssMb, 0)} MB, of which ${fmt(s.last.fileMb, 0)} MB file-backed (the node binary's code) and ${fmt(s.last.anonMb, 0)} MB anonymous; V8 heap ${fmt(s.last.heapTotalMb, 0)} MB reserved (${fmt(s.last.heapUsedMb, 0)} MB used), external (Buffers) ${fmt(s.last.externalMb, 0)} MB.`);
    lines.push('', `Throughput per chunk (calls/s): ${s.chunks.map((c) => c.rps).join(', ')}.`);
  }
  return lines;
}

/** The workloads this run measured, in report order, with their figures. */
function measuredWorkloads(results: Results) {
  return WORKLOADS.flatMap((w) => {
    const f = results.workloads[w];
    return f ? [[w, f] as const] : [];
  });
}

/** "query 1.002, update 0.1": the non-zero per-call counts of a run. */
function nonZeroCounts(counts: Record<string, number | null> | undefined): string {
  return Object.entries(counts ?? {})
    .filter(([, v]) => v)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
}

/** Whether an achieved mix is more than 2 points away from 90/9/1 for any method. */
function offMix(shares: Record<string, number>): boolean {
  return (Object.keys(MIX_SHARES) as Single[]).some((w) => Math.abs((shares[w] ?? 0) - MIX_SHARES[w]) > 0.02);
}

// ---------------------------------------------------------------------------------------------
// The console

function printTables(results: Results, logLevel: string): void {
  console.log('');
  for (const [w, f] of measuredWorkloads(results)) {
    console.log(`== ${LABEL[w]}`);
    const row = (name: string, m?: Measured) =>
      m
        ? console.log(`  ${name.padEnd(10)} ${fmtRps(m.rps).padStart(7)} calls/s  p50 ${fmt(m.p50Ms).padStart(7)} ms  p99 ${fmt(m.p99Ms).padStart(7)} ms  cpu/call ${fmt(m.cpuMsPerCall, 3)} ms  errors ${JSON.stringify(m.errors)}`)
        : undefined;
    row('service', f.service);
    row('no-op', f.noop);
    row('raw', f.raw);
    console.log(`  ratios: ${Object.entries(f.ratios).map(([k, v]) => `${k} ${fmt(v)}`).join('  ')}`);
    if (f.service.shares) {
      console.log(`  mix achieved: service ${JSON.stringify(f.service.shares)} no-op ${JSON.stringify(f.noop?.shares)}${offMix(f.service.shares) ? '  (service mix off 90/9/1 by more than 2 points: compare with care)' : ''}`);
    }
  }
  if (results.dataSize) {
    const d = results.dataSize;
    console.log(`== Data size: Validate p50 ${fmt(d.small.service.p50Ms)} ms at ${d.usersSmall} users, ${fmt(d.large.service.p50Ms)} ms at ${d.usersLarge} users: ratio ${fmt(d.p50Ratio)} (raw driver ${fmt(d.rawP50Ratio)}); seeding ${fmt(d.seedSeconds, 0)} s`);
  }
  if (results.fanout) {
    const f = results.fanout;
    console.log(`== Event fan-out, ${f.subscribers} subscribers: ${f.revocationsPerS} revocations/s (${f.eventsPerS} events/s, ${f.deliveriesPerS} deliveries/s), delivery p50 ${fmt(f.deliveryP50Ms, 1)} ms p99 ${fmt(f.deliveryP99Ms, 1)} ms max ${fmt(f.deliveryMaxMs, 1)} ms, ${f.missing} missing; service RSS peak ${fmt(f.serviceRssPeakMb, 0)} MB, ${fmt(f.serviceCpuMsPerEvent, 3)} ms CPU per event`);
  }
  if (results.rss) console.log(`== Service RSS: ${fmt(results.rss.serviceRssAtEndMb, 0)} MB at end, peak ${fmt(results.rss.servicePeakMb, 0)} MB`);
  if (results.soak) console.log(`== Soak: RSS after ${results.soak.targetCalls} calls ${fmt(results.soak.rssAfterTargetCallsMb, 0)} MB; last-half growth ${fmt(results.soak.lastHalfGrowthMb, 1)} MB`);
  console.log('== Verdicts');
  for (const v of results.verdicts ?? []) console.log(`  ${v.pass === null ? 'n/a ' : v.pass ? 'PASS' : 'MISS'}  ${v.target}: ${fmt(v.value)} (${v.threshold})${v.note ? ` [${v.note}]` : ''}`);
  console.log(`\n(LOG_LEVEL=${logLevel} for the service: at info, its access log line per call would dominate the CPU.)`);
}

// ---------------------------------------------------------------------------------------------
// Writing it out

async function plot(resultsDir: string): Promise<boolean> {
  const cacheDir = loadConfig({ MONGOD_CACHE_DIR: process.env.MONGOD_CACHE_DIR }).MONGOD_CACHE_DIR;
  const venv = join(cacheDir, 'bench-venv');
  const python = join(venv, 'bin/python');
  try {
    if (!existsSync(python)) {
      log(`creating the plotting venv in ${venv} (matplotlib from PyPI, first run only)`);
      execFileSync('python3', ['-m', 'venv', venv], { stdio: 'inherit' });
      execFileSync(python, ['-m', 'pip', 'install', '--quiet', 'matplotlib==3.9.2'], { stdio: 'inherit' });
    }
    execFileSync(python, [join(REPO_ROOT, 'bench/plot.py'), join(resultsDir, 'latest.json'), join(resultsDir, 'latest.png')], { stdio: 'inherit' });
    return true;
  } catch (error) {
    log(`no plot: ${(error as Error).message}`);
    return false;
  }
}

/** Verdicts, then latest.json, latest.png, latest.md in `placement.dir`, and the tables on the console. */
export async function writeReport(results: Results, placement: ResultsPlacement, logLevel: string): Promise<void> {
  // A soak-only run adds its soak to the figures already there; a run without a soak keeps the last one.
  const previousPath = join(placement.dir, 'latest.json');
  if (existsSync(previousPath) && (placement.soakOnly || !results.soak)) {
    const previous = JSON.parse(readFileSync(previousPath, 'utf8')) as Results;
    if (placement.soakOnly) {
      previous.soak = results.soak;
      Object.assign(results, { ...previous, meta: previous.meta });
    } else if (previous.soak) {
      results.soak = previous.soak;
    }
  }
  results.verdicts = verdicts(results);
  writeFileSync(previousPath, `${JSON.stringify(results, null, 2)}\n`);
  results.meta.plot = placement.plot ? await plot(placement.dir) : false;
  writeFileSync(previousPath, `${JSON.stringify(results, null, 2)}\n`);
  writeFileSync(join(placement.dir, 'latest.md'), markdown(results));
  printTables(results, logLevel);
  log(`results: ${join(placement.dir, 'latest.json')}, latest.md${results.meta.plot ? ', latest.png' : ''}`);
}

function markdownFanout(f: FanoutFigures): string[] {
  return [
    '',
    `## Event fan-out (WatchAuthTokenEvents)`,
    '',
    `${f.subscribers} subscribers of every event on one replica, each on its own connection, while ${f.durationS} s of issue-and-revoke loops ran as fast as the service took them.`,
    '',
    '| revocations/s | events/s | deliveries/s | delivery p50 | p99 | max | missing | service RSS peak | service CPU per event |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    `| ${f.revocationsPerS} | ${f.eventsPerS} | ${f.deliveriesPerS} | ${fmt(f.deliveryP50Ms, 1)} ms | ${fmt(f.deliveryP99Ms, 1)} ms | ${fmt(f.deliveryMaxMs, 1)} ms | ${f.missing} | ${fmt(f.serviceRssPeakMb, 0)} MB | ${fmt(f.serviceCpuMsPerEvent, 3)} ms |`,
  ];
}
