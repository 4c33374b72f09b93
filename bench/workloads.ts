// The measured runs: ghz against a gRPC target (the service or the no-op server), one method at a
// time or the 90/9/1 mix; the raw-driver baseline; and the data-size comparison.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Db } from 'mongodb';
import { seedLarge, writeDataFiles, type Dataset } from './dataset';
import { figures, type GhzResult, type LoadFigures, runGhz } from './lib/ghz';
import { fmt, fmtRps, ratio, round } from './lib/numbers';
import { log, OUT_DIR, writeJson } from './lib/output';
import { type Probe, type ProbeResult, startProbe } from './lib/probe';
import { type Child, REPO_ROOT, type ServiceOptions, startService, UID_LIMIT_PER_MINUTE } from './lib/processes';
import { DB_NAME, LABEL, type Settings, type Single, type Workload } from './settings';

export const MIX_SHARES: Record<Single, number> = { validate: 0.9, create: 0.09, list: 0.01 };
const METHOD: Record<Single, string> = { validate: 'ValidateAuthToken', create: 'CreateAuthToken', list: 'ListAuthTokens' };
/** The ghz request file of each method, by its key in BenchContext.files. */
const DATA_FILE_KEY: Record<Single, string> = { validate: 'ghzValidate', create: 'ghzCreate', list: 'ghzList' };

/**
 * Validate warm-up passes: the first writes each token's last use (due once a minute), a change to
 * its user that drops the user's cached tokens; the second finds every token in the cache.
 */
export const VALIDATE_WARMUP_PASSES = 2;

export type Measured = LoadFigures & ProbeResult & { errorSamples?: string[]; shares?: Record<string, number>; perMethod?: Record<string, LoadFigures> };

export interface TargetFigures {
  service: Measured;
  noop?: Measured;
  raw?: Measured;
  /** Create only: the raw driver doing the design before atomic writes (a transaction per create). */
  rawTransaction?: Measured;
}

/** Single-method figures of the service and the no-op server, kept to plan the mix. */
export type SingleFigures = Partial<Record<Single, { service: Measured; noop: Measured }>>;

export interface BenchContext {
  settings: Settings;
  ghz: string;
  admin: Db;
  mongodPid: number;
  service: Child & { metricsPort: number };
  noop?: Child;
  mongoUri: string;
  files: Record<string, string>;
  /** Sent with every call to both gRPC targets (the no-op server ignores it). */
  metadata?: Record<string, string>;
}

function strip(result: GhzResult): LoadFigures & { errorSamples: string[] } {
  const { latenciesMs: _l, ...rest } = result;
  return rest;
}

function sampleTokenCount(dataFile: string): number {
  return (JSON.parse(readFileSync(dataFile, 'utf8')) as unknown[]).length;
}

// ---------------------------------------------------------------------------------------------
// Load against a gRPC target (the service or the no-op server)

export async function ghzSingle(ctx: BenchContext, target: Child, workload: Single, dataKey: string, label: string): Promise<Measured> {
  const address = `127.0.0.1:${target.port}`;
  const dataFile = ctx.files[dataKey]!;
  const base = { ghz: ctx.ghz, address, method: METHOD[workload], dataFile, concurrency: ctx.settings.concurrency, metadata: ctx.metadata };
  // Warm-up. Validate: VALIDATE_WARMUP_PASSES over every sample token, so the measured run is the
  // steady state (no last-use writes, a warm cache).
  if (workload === 'validate') {
    const tokens = sampleTokenCount(dataFile);
    await runGhz({ ...base, total: VALIDATE_WARMUP_PASSES * tokens, outFile: join(OUT_DIR, `ghz-${label}-warmup.json`) });
  } else {
    await runGhz({ ...base, durationS: ctx.settings.warmupS, outFile: join(OUT_DIR, `ghz-${label}-warmup.json`) });
  }
  const probe = await startProbe(ctx, target.pid, 'metricsPort' in target ? (target.metricsPort as number) : undefined);
  const result = await runGhz({ ...base, durationS: ctx.settings.durationS, outFile: join(OUT_DIR, `ghz-${label}.json`) });
  const probed = await probe.finish(result.count);
  return { ...strip(result), ...probed };
}

/**
 * The 90/9/1 mix with ghz, which calls one method per process: three ghz processes side by side
 * with the same total concurrency. Workers are split in proportion to share x mean latency (first
 * from the single-method runs of the same target). Validate runs closed-loop; Create and List are
 * rate-capped. With `warm`, a 5 s pilot of the mix refines the split and the caps (refinePlan), so
 * the call mix comes out close to 90/9/1 (the achieved shares are reported). Returns the figures
 * and the plan refined from this run, for the next one.
 */
export async function ghzMix(
  ctx: BenchContext,
  target: Child,
  plan: MixPlan,
  label: string,
  durationS: number,
  warm = true,
): Promise<{ measured: Measured; plan: MixPlan }> {
  const address = `127.0.0.1:${target.port}`;
  if (warm) plan = await warmUpMix(ctx, address, plan, label);
  const probe = await startProbe(ctx, target.pid);
  const runs = await runMix(ctx, address, plan, durationS, label, '');
  const { validate: v, create: c, list: l } = runs;
  const seconds = Math.max(v.durationS, c.durationS, l.durationS);
  const merged = figures([...v.latenciesMs, ...c.latenciesMs, ...l.latenciesMs], seconds);
  const count = merged.count;
  const probed = await probe.finish(count);
  const errors: Record<string, number> = {};
  for (const [w, r] of [['validate', v], ['create', c], ['list', l]] as const) {
    for (const [code, n] of Object.entries(r.errors)) errors[`${w}:${code}`] = n;
  }
  const measured = {
    ...merged,
    ...probed,
    errors,
    errorSamples: [...v.errorSamples, ...c.errorSamples, ...l.errorSamples],
    shares: { validate: round(v.count / count, 3)!, create: round(c.count / count, 3)!, list: round(l.count / count, 3)! },
    perMethod: { validate: strip(v), create: strip(c), list: strip(l) },
    mixPlan: plan,
  } as Measured;
  return { measured, plan: refinePlan(plan, runs, ctx.settings.concurrency) };
}

function mixDataFiles(ctx: BenchContext): Record<Single, string> {
  return { validate: ctx.files.ghzValidate!, create: ctx.files.ghzCreate!, list: ctx.files.ghzList! };
}

/** One ghz process per method, side by side, as `plan` says. */
async function runMix(ctx: BenchContext, address: string, plan: MixPlan, seconds: number, label: string, suffix: string): Promise<Record<Single, GhzResult>> {
  const data = mixDataFiles(ctx);
  const methods = Object.keys(plan.workers) as Single[];
  const results = await Promise.all(
    methods.map((w) =>
      runGhz({
        ghz: ctx.ghz,
        address,
        method: METHOD[w],
        dataFile: data[w],
        concurrency: plan.workers[w],
        rps: plan.rps[w],
        metadata: ctx.metadata,
        durationS: seconds,
        outFile: join(OUT_DIR, `ghz-${label}-${w}${suffix}.json`),
      }),
    ),
  );
  return Object.fromEntries(methods.map((w, i) => [w, results[i]!])) as Record<Single, GhzResult>;
}

/** The Validate warm-up passes, then the pilot of the mix; returns the plan refined by the pilot. */
async function warmUpMix(ctx: BenchContext, address: string, plan: MixPlan, label: string): Promise<MixPlan> {
  const data = mixDataFiles(ctx);
  const tokens = sampleTokenCount(data.validate);
  await runGhz({ ghz: ctx.ghz, address, method: METHOD.validate, dataFile: data.validate, concurrency: ctx.settings.concurrency, total: VALIDATE_WARMUP_PASSES * tokens, metadata: ctx.metadata, outFile: join(OUT_DIR, `ghz-${label}-warmup-pass.json`) });
  const pilot = await runMix(ctx, address, plan, Math.max(5, ctx.settings.warmupS), label, '-pilot');
  return refinePlan(plan, pilot, ctx.settings.concurrency);
}

export interface MixPlan {
  workers: Record<Single, number>;
  rps: Record<Single, number>;
}

/**
 * The plan refined from a run of the mix itself: workers re-split by share x the latencies seen in
 * the mix (Create's rise under contention), with 25% headroom for the capped methods (extra workers
 * cannot overshoot a rate cap); Create and List capped at 9/90 and 1/90 of the Validate rate
 * expected with the new split.
 */
function refinePlan(plan: MixPlan, seen: Record<Single, LoadFigures>, concurrency: number): MixPlan {
  const C = concurrency;
  if (!(seen.validate.rps > 0)) return plan;
  const weight = (w: Single) => MIX_SHARES[w] * Math.max(seen[w].avgMs || 0, 0.01);
  const total = weight('validate') + weight('create') + weight('list');
  const create = Math.max(1, Math.ceil((1.25 * C * weight('create')) / total));
  const list = Math.max(1, Math.ceil((1.25 * C * weight('list')) / total));
  const validate = Math.max(1, C - create - list);
  // Closed loop: Validate's rate scales with its workers at the latency seen.
  const validateRps = (seen.validate.rps * validate) / plan.workers.validate;
  const per = validateRps / MIX_SHARES.validate;
  return {
    workers: { validate, create, list },
    rps: { validate: 0, create: MIX_SHARES.create * per, list: MIX_SHARES.list * per },
  };
}

/** First plan: workers in proportion to share x latency; caps from a closed-loop estimate. */
export function mixPlan(single: Record<Single, LoadFigures>, concurrency: number): MixPlan {
  const C = concurrency;
  const weight = (w: Single) => MIX_SHARES[w] * Math.max(single[w].avgMs, 0.01);
  const totalWeight = weight('validate') + weight('create') + weight('list');
  const create = Math.max(1, Math.round((C * weight('create')) / totalWeight));
  const list = Math.max(1, Math.round((C * weight('list')) / totalWeight));
  const validate = Math.max(1, C - create - list);
  // C workers, mean time per call sum(share x latency).
  const expected = (C * 1000) / totalWeight;
  return {
    workers: { validate, create, list },
    rps: { validate: 0, create: MIX_SHARES.create * expected, list: MIX_SHARES.list * expected },
  };
}

/** Single-method figures per target for planning the mix; measured here if not run already. */
export async function singleFigures(ctx: BenchContext, single: SingleFigures, withNoop: boolean) {
  for (const w of ['validate', 'create', 'list'] as const) {
    if (single[w] && (single[w].noop || !withNoop)) continue;
    log(`  (measuring ${LABEL[w]} alone first, to plan the mix)`);
    single[w] = {
      service: await ghzSingle(ctx, ctx.service, w, DATA_FILE_KEY[w], `${w}-service-plan`),
      noop: withNoop && ctx.noop ? await ghzSingle(ctx, ctx.noop, w, DATA_FILE_KEY[w], `${w}-noop-plan`) : (undefined as never),
    };
  }
  return single as Record<Single, { service: Measured; noop: Measured }>;
}

export function byTarget(s: Record<Single, { service: Measured; noop: Measured }>, target: 'service' | 'noop'): Record<Single, LoadFigures> {
  return { validate: s.validate[target], create: s.create[target], list: s.list[target] };
}

// ---------------------------------------------------------------------------------------------
// The raw-driver baseline

export async function rawDriver(ctx: BenchContext, workload: Workload | 'create-transaction', dataKey: string, label: string): Promise<Measured> {
  const { settings } = ctx;
  const args = [
    '--import', 'tsx', 'bench/raw-driver.ts',
    '--uri', ctx.mongoUri, '--db', DB_NAME, '--data', ctx.files[dataKey]!,
    '--workload', workload,
    '--concurrency', String(settings.concurrency),
    '--duration', String(settings.durationS),
    '--warmup', String(settings.warmupS),
    '--max-tokens', String(settings.tokensPerUser),
    '--uid-limit-per-minute', String(UID_LIMIT_PER_MINUTE),
  ];
  const child = spawn(process.execPath, args, { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  let probe: Promise<Probe> | undefined;
  let result: (Measured & { cpuMsPerCall: number }) | undefined;
  createInterface({ input: child.stdout! }).on('line', (line) => {
    const entry = JSON.parse(line) as { phase?: string } & Measured;
    if (entry.phase === 'measure') probe = startProbe(ctx, undefined);
    else result = entry as Measured & { cpuMsPerCall: number };
  });
  const code = await new Promise<number | null>((done) => child.once('exit', done));
  if (code !== 0 || !result || !probe) throw new Error(`raw-driver ${label} failed (exit ${code}):\n${stderr}`);
  const probed = await (await probe).finish(result.count);
  writeJson(join(OUT_DIR, `raw-${label}.json`), result);
  // The raw driver reports its own CPU per call.
  return { ...result, ...probed, cpuMsPerCall: result.cpuMsPerCall };
}

// ---------------------------------------------------------------------------------------------
// One workload on every target, `repeat` times

/** Measures workload `w` on the service and the baselines; single-method figures are kept in `single`. */
export async function measureWorkload(ctx: BenchContext, noop: Child, w: Workload, single: SingleFigures): Promise<TargetFigures> {
  const { settings } = ctx;
  log(`workload ${LABEL[w]} ...`);
  // Each repeat runs the three targets back to back; per target, the run with the median
  // throughput is kept (all throughputs are recorded in `repeats`).
  const rounds: TargetFigures[] = [];
  for (let r = 0; r < settings.repeat; r++) {
    const tag = settings.repeat > 1 ? `-r${r + 1}` : '';
    rounds.push(w === 'mix' ? await measureMixRound(ctx, noop, single, tag) : await measureSingleRound(ctx, noop, w, tag));
    if (settings.repeat > 1) log(`  round ${r + 1}: service ${fmtRps(rounds.at(-1)!.service.rps)}/s | no-op ${fmtRps(rounds.at(-1)!.noop?.rps)}/s | raw ${fmtRps(rounds.at(-1)!.raw?.rps)}/s`);
  }
  const figures: TargetFigures = {
    service: median(rounds.map((f) => f.service))!,
    noop: median(rounds.map((f) => f.noop)),
    raw: median(rounds.map((f) => f.raw)),
    rawTransaction: median(rounds.map((f) => f.rawTransaction)),
  };
  if (w !== 'mix') single[w] = { service: figures.service, noop: figures.noop as Measured };
  warnOnErrors(LABEL[w], figures);
  log(`  service ${fmtRps(figures.service.rps)}/s p50 ${fmt(figures.service.p50Ms)} ms | no-op ${fmtRps(figures.noop?.rps)}/s | raw ${fmtRps(figures.raw?.rps)}/s${figures.rawTransaction ? ` | raw, transaction design ${fmtRps(figures.rawTransaction.rps)}/s` : ''}`);
  return figures;
}

async function measureMixRound(ctx: BenchContext, noop: Child, single: SingleFigures, tag: string): Promise<TargetFigures> {
  const { settings } = ctx;
  const s = await singleFigures(ctx, single, settings.baselines);
  return {
    service: (await ghzMix(ctx, ctx.service, mixPlan(byTarget(s, 'service'), settings.concurrency), `mix-service${tag}`, settings.durationS)).measured,
    noop: settings.baselines ? (await ghzMix(ctx, noop, mixPlan(byTarget(s, 'noop'), settings.concurrency), `mix-noop${tag}`, settings.durationS)).measured : undefined,
    raw: settings.baselines ? await rawDriver(ctx, 'mix', 'raw', `mix${tag}`) : undefined,
  };
}

async function measureSingleRound(ctx: BenchContext, noop: Child, w: Single, tag: string): Promise<TargetFigures> {
  const { settings } = ctx;
  return {
    service: await ghzSingle(ctx, ctx.service, w, DATA_FILE_KEY[w], `${w}-service${tag}`),
    noop: settings.baselines ? await ghzSingle(ctx, noop, w, DATA_FILE_KEY[w], `${w}-noop${tag}`) : undefined,
    raw: settings.baselines ? await rawDriver(ctx, w, 'raw', `${w}${tag}`) : undefined,
    rawTransaction: settings.baselines && w === 'create' ? await rawDriver(ctx, 'create-transaction', 'raw', `create-transaction${tag}`) : undefined,
  };
}

/** The run with the median throughput, with every run's throughput attached. */
function median(runs: (Measured | undefined)[]): Measured | undefined {
  const present = runs.filter((m): m is Measured => m !== undefined);
  if (present.length === 0) return undefined;
  if (present.length === 1) return present[0];
  const sorted = [...present].sort((a, b) => a.rps - b.rps);
  return { ...sorted[Math.floor((sorted.length - 1) / 2)]!, repeats: present.map((m) => round(m.rps, 0)!) } as Measured;
}

function warnOnErrors(label: string, figures: TargetFigures): void {
  for (const [target, m] of Object.entries(figures) as [string, Measured | undefined][]) {
    if (m && Object.keys(m.errors).length > 0) {
      log(`  WARNING: ${label} on ${target} had errors ${JSON.stringify(m.errors)} ${JSON.stringify(m.errorSamples ?? [])}`);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Data size: Validate at two sizes

export interface DataSizeFigures {
  usersSmall: number;
  usersLarge: number;
  tokensPerUser: number;
  validateSample: number;
  seedSeconds: number;
  seedTokensPerSecond: number;
  small: { service: Measured; raw?: Measured };
  large: { service: Measured; raw?: Measured };
  p50Ratio: number | null;
  rawP50Ratio: number | null;
}

/** Validate at usersSmall, then (after seeding the rest) at usersLarge users, on a service without the cache. */
export async function measureDataSize(ctx: BenchContext, serviceOptions: ServiceOptions, dataset: Dataset, db: Db): Promise<DataSizeFigures> {
  const { settings } = ctx;
  // The cache would serve both sizes from memory; what must stay flat as data grows is the
  // database lookup, so this section runs against a second service process without the cache.
  const uncached = await startService({ ...serviceOptions, env: { VALIDATION_CACHE_ENTRIES: '0' }, cpuProfDir: undefined });
  try {
    log(`data size: Validate at ${settings.usersSmall} users, cache off (service pid ${uncached.pid}) ...`);
    const small = {
      service: await ghzSingle(ctx, uncached, 'validate', 'ghzValidate', 'size-small-service'),
      raw: settings.baselines ? await rawDriver(ctx, 'validate', 'raw', 'size-small') : undefined,
    };
    const large = await seedLarge(ctx.mongoUri, db, dataset.validateSmall, settings);
    const largeFiles = writeDataFiles('large', large.kept, dataset.createUids, dataset.listUids);
    // Subsequent runs (the soak) keep using the small sample.
    ctx.files = { ...ctx.files, ghzValidateLarge: largeFiles.ghzValidate!, rawLarge: largeFiles.raw! };
    log(`data size: Validate at ${settings.usersLarge} users ...`);
    const largeFigures = {
      service: await ghzSingle(ctx, uncached, 'validate', 'ghzValidateLarge', 'size-large-service'),
      raw: settings.baselines ? await rawDriver(ctx, 'validate', 'rawLarge', 'size-large') : undefined,
    };
    return {
      usersSmall: settings.usersSmall,
      usersLarge: settings.usersLarge,
      tokensPerUser: settings.tokensPerUser,
      validateSample: settings.validateSample,
      seedSeconds: round(large.seconds, 1)!,
      seedTokensPerSecond: round(large.tokensPerSecond, 0)!,
      small,
      large: largeFigures,
      p50Ratio: ratio(largeFigures.service.p50Ms, small.service.p50Ms),
      rawP50Ratio: ratio(largeFigures.raw?.p50Ms, small.raw?.p50Ms),
    };
  } finally {
    await uncached.stop();
  }
}
