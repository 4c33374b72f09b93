// The benchmark (`npm run bench`; not part of the tests). See bench/README.md.
//
// The real service (node dist/src/main.js, its own process, LOG_LEVEL=warn) on a real mongod 6.0.5
// single-node replica set started here in a temporary folder, loaded by ghz; two baselines measured
// in the same run so that the machine's noise cancels out of the ratios:
//   no-op   bench/noop-server.ts: grpc-js with the same transport options and same-size responses;
//   raw     bench/raw-driver.ts: the same MongoDB operations with the raw driver, same pool.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { credentials, Metadata } from '@grpc/grpc-js';
import { type Db, MongoClient } from 'mongodb';
import { AuthTokenServiceClient, AuthTokenServiceService } from '../gen/authtoken/v1/auth_token_service';
import { ensureGoTool, GO_TOOLS } from '../scripts/go-tools';
import { loadConfig } from '../src/config';
import { generateApiKey, keyEntry } from '../src/domain/api-keys';
import { ensureMongodBinary } from '../src/embedded-mongod/mongod-binary';
import { startEmbeddedMongod } from '../src/embedded-mongod/mongod-process';
import { figures, type GhzResult, type LoadFigures, runGhz } from './lib/ghz';
import { memoryOf } from '../test/support/process-memory';
import { type Child, cpuMsOf, machineCpu, productionNodeFlags, REPO_ROOT, RssSampler, startNoopServer, startService } from './lib/processes';
import { type KeptToken, seedInParallel, uidOf } from './lib/seed';
import { renderFlamegraph } from './flamegraph';
import { formatSummary, summarise } from './profile-summary';

// ---------------------------------------------------------------------------------------------
// Settings

const { values: flags } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    concurrency: { type: 'string' },
    duration: { type: 'string' },
    warmup: { type: 'string' },
    'users-small': { type: 'string' },
    'users-large': { type: 'string' },
    'tokens-per-user': { type: 'string', default: '100' },
    'create-users': { type: 'string', default: '1000' },
    'validate-sample': { type: 'string', default: '5000' },
    only: { type: 'string' },
    soak: { type: 'boolean', default: false },
    'soak-only': { type: 'boolean', default: false },
    'soak-minutes': { type: 'string' },
    'soak-calls': { type: 'string' },
    'cpu-prof': { type: 'boolean', default: false },
    'log-level': { type: 'string', default: 'warn' },
    'results-dir': { type: 'string' },
    'no-plot': { type: 'boolean', default: false },
    'no-api-key': { type: 'boolean', default: false },
    'service-entry': { type: 'string' },
    'no-baselines': { type: 'boolean', default: false },
    'service-node-options': { type: 'string' },
    repeat: { type: 'string', default: '1' },
    help: { type: 'boolean', default: false },
  },
});

if (flags.help) {
  console.log(readFileSync(join(__dirname, 'README.md'), 'utf8'));
  process.exit(0);
}

const quick = flags.quick!;
const WORKLOADS = ['validate', 'create', 'list', 'mix'] as const;
type Workload = (typeof WORKLOADS)[number];
type Single = Exclude<Workload, 'mix'>;
const only = flags.only ? new Set(flags.only.split(',').map((s) => s.trim())) : undefined;
const soakOnly = flags['soak-only']!;

const settings = {
  quick,
  concurrency: Number(flags.concurrency ?? 32),
  durationS: Number(flags.duration ?? (quick ? 3 : 15)),
  warmupS: Number(flags.warmup ?? (quick ? 1 : 3)),
  usersSmall: Number(flags['users-small'] ?? 1_000),
  usersLarge: Number(flags['users-large'] ?? (quick ? 10_000 : 100_000)),
  tokensPerUser: Number(flags['tokens-per-user']),
  createUsers: Number(flags['create-users']),
  validateSample: Number(flags['validate-sample']),
  workloads: soakOnly ? [] : WORKLOADS.filter((w) => !only || only.has(w)),
  dataSize: !soakOnly && (!only || only.has('datasize')),
  soak: soakOnly || flags.soak!,
  soakMinutes: Number(flags['soak-minutes'] ?? (quick ? 1 : 10)),
  soakCalls: Number(flags['soak-calls'] ?? (quick ? 50_000 : 1_000_000)),
  cpuProf: flags['cpu-prof']!,
  logLevel: flags['log-level']!,
  apiKey: !flags['no-api-key'],
  serviceEntry: flags['service-entry'],
  baselines: !flags['no-baselines'],
  /** Extra node flags for the service process only, e.g. "--max-semi-space-size=4". */
  serviceNodeOptions: flags['service-node-options'],
  /** Runs per workload and target (median kept): more stable figures on a noisy machine. */
  repeat: Math.max(1, Number(flags.repeat)),
};

/** Settings as the committed figures need them: the service as built, with its defaults, fully loaded. */
const defaultSettings =
  settings.logLevel === 'warn' &&
  !flags.concurrency &&
  !flags.duration &&
  !flags.warmup &&
  !settings.serviceEntry &&
  !settings.serviceNodeOptions &&
  settings.apiKey &&
  settings.baselines &&
  !settings.cpuProf &&
  !quick &&
  (!settings.soak || (settings.soakMinutes >= 10 && settings.soakCalls >= 1_000_000));
/**
 * Only a complete default run (or a full soak) replaces the committed figures in bench/results/;
 * anything else (quick, partial, profiled, short soak, other settings) goes to bench/out/.
 */
const official = defaultSettings && (soakOnly || (!only && !flags['users-large'] && !flags['users-small']));
const OUT = join(REPO_ROOT, 'bench/out');
const RESULTS_DIR =
  flags['results-dir'] ??
  (official
    ? join(REPO_ROOT, 'bench/results')
    : join(OUT, quick ? 'quick' : settings.cpuProf ? 'profiled' : soakOnly ? 'soak' : 'partial'));

const DB_NAME = 'bench';
const MIX_SHARES: Record<Single, number> = { validate: 0.9, create: 0.09, list: 0.01 };
const METHOD: Record<Single, string> = { validate: 'ValidateAuthToken', create: 'CreateAuthToken', list: 'ListAuthTokens' };

const TARGETS = {
  validateVsNoop: 0.7,
  createVsRaw: 0.5,
  dataSizeP50: 1.2,
  rssMb: 200,
  /** "No growth": the least-squares growth over the last half of the soak, in MB. */
  soakGrowthMb: 5,
};

// ---------------------------------------------------------------------------------------------
// Small helpers

const log = (message: string) => console.log(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}`);
const round = (x: number, digits = 2) => (Number.isFinite(x) ? Number(x.toFixed(digits)) : null);

function writeJson(path: string, value: unknown): void {
  writeFileSync(path, JSON.stringify(value));
}

function sh(command: string, args: string[]): string {
  try {
    return execFileSync(command, args, { encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}

/** CPU and database counters around one measured run. */
interface Probe {
  finish(calls: number): Promise<ProbeResult>;
}

interface ProbeResult {
  /** CPU ms per call of the process under test (service or no-op server). */
  cpuMsPerCall: number | null;
  mongodCpuMsPerCall: number | null;
  /** Share of the whole machine's CPU that was busy during the run (all processes, everyone's). */
  machineBusyPct: number | null;
  /** Share of the whole machine's CPU time that the hypervisor gave to other guests (steal). */
  machineStolenPct: number | null;
  /** MongoDB operations per call, from serverStatus opcounters (plus committed transactions). */
  dbOpsPerCall: Record<string, number | null>;
  /** Validation cache lookups per call, by result (service runs only, from its /metrics). */
  cacheLookupsPerCall?: Record<string, number | null>;
}

interface Context {
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

async function dbCounters(admin: Db): Promise<Record<string, number>> {
  const status = await admin.command({ serverStatus: 1, repl: 0, metrics: 0, locks: 0, wiredTiger: 0 });
  return {
    ...Object.fromEntries(Object.entries(status.opcounters as Record<string, number>).map(([k, v]) => [k, Number(v)])),
    txnCommitted: Number(status.transactions?.totalCommitted ?? 0),
  };
}

async function startProbe(ctx: Context, pid: number | undefined, metricsPort?: number): Promise<Probe> {
  const before = await dbCounters(ctx.admin);
  const lookupsBefore = metricsPort ? (await serviceMetrics(metricsPort)).cacheLookups : undefined;
  const cpu = pid ? cpuMsOf(pid) : NaN;
  const mongodCpu = cpuMsOf(ctx.mongodPid);
  const machine = machineCpu();
  return {
    async finish(calls) {
      const m = machineCpu();
      const cpuAfter = pid ? cpuMsOf(pid) : NaN;
      const mongodAfter = cpuMsOf(ctx.mongodPid);
      const after = await dbCounters(ctx.admin);
      const shareOfMachine = (jiffies: number) => round((100 * jiffies) / Math.max(1, m.total - machine.total), 1);
      const perCall = (x: number, digits = 4) => (calls > 0 ? round(x / calls, digits) : null);
      const dbOpsPerCall: Record<string, number | null> = {};
      for (const key of ['query', 'update', 'insert', 'command', 'txnCommitted']) {
        dbOpsPerCall[key] = perCall(after[key]! - before[key]!, 3);
      }
      const lookupsAfter = metricsPort ? (await serviceMetrics(metricsPort)).cacheLookups : undefined;
      const cacheLookupsPerCall =
        lookupsBefore && lookupsAfter
          ? Object.fromEntries(Object.keys(lookupsAfter).map((k) => [k, perCall(lookupsAfter[k]! - (lookupsBefore[k] ?? 0), 3)]))
          : undefined;
      return {
        cacheLookupsPerCall,
        cpuMsPerCall: pid ? perCall(cpuAfter - cpu) : null,
        mongodCpuMsPerCall: perCall(mongodAfter - mongodCpu),
        machineBusyPct: shareOfMachine(m.busy - machine.busy),
        machineStolenPct: shareOfMachine(m.stolen - machine.stolen),
        dbOpsPerCall,
      };
    },
  };
}

type Measured = LoadFigures & ProbeResult & { errorSamples?: string[]; shares?: Record<string, number>; perMethod?: Record<string, LoadFigures> };

function strip(result: GhzResult): LoadFigures & { errorSamples: string[] } {
  const { latenciesMs: _l, ...rest } = result;
  return rest;
}

// ---------------------------------------------------------------------------------------------
// Load against a gRPC target (the service or the no-op server)

/**
 * Validate warm-up passes: the first writes each token's last use (due once a minute), a change to
 * its user that drops the user's cached tokens; the second finds every token in the cache.
 */
const VALIDATE_WARMUP_PASSES = 2;

async function ghzSingle(ctx: Context, target: Child, workload: Single, dataKey: string, label: string): Promise<Measured> {
  const address = `127.0.0.1:${target.port}`;
  const dataFile = ctx.files[dataKey]!;
  const base = { ghz: ctx.ghz, address, method: METHOD[workload], dataFile, concurrency: settings.concurrency, metadata: ctx.metadata };
  // Warm-up. Validate: VALIDATE_WARMUP_PASSES over every sample token, so the measured run is the
  // steady state (no last-use writes, a warm cache).
  if (workload === 'validate') {
    const tokens = (JSON.parse(readFileSync(dataFile, 'utf8')) as unknown[]).length;
    await runGhz({ ...base, total: VALIDATE_WARMUP_PASSES * tokens, outFile: join(OUT, `ghz-${label}-warmup.json`) });
  } else {
    await runGhz({ ...base, durationS: settings.warmupS, outFile: join(OUT, `ghz-${label}-warmup.json`) });
  }
  const probe = await startProbe(ctx, target.pid, 'metricsPort' in target ? (target.metricsPort as number) : undefined);
  const result = await runGhz({ ...base, durationS: settings.durationS, outFile: join(OUT, `ghz-${label}.json`) });
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
async function ghzMix(
  ctx: Context,
  target: Child,
  plan: MixPlan,
  label: string,
  durationS: number,
  warm = true,
): Promise<{ measured: Measured; plan: MixPlan }> {
  const address = `127.0.0.1:${target.port}`;
  const data: Record<Single, string> = { validate: ctx.files.ghzValidate!, create: ctx.files.ghzCreate!, list: ctx.files.ghzList! };
  const go = (p: MixPlan, seconds: number, suffix: string) =>
    Promise.all(
      (Object.keys(p.workers) as Single[]).map((w) =>
        runGhz({
          ghz: ctx.ghz,
          address,
          method: METHOD[w],
          dataFile: data[w],
          concurrency: p.workers[w],
          rps: p.rps[w],
          metadata: ctx.metadata,
          durationS: seconds,
          outFile: join(OUT, `ghz-${label}-${w}${suffix}.json`),
        }),
      ),
    ) as Promise<[GhzResult, GhzResult, GhzResult]>;
  if (warm) {
    const tokens = (JSON.parse(readFileSync(data.validate, 'utf8')) as unknown[]).length;
    await runGhz({ ghz: ctx.ghz, address, method: METHOD.validate, dataFile: data.validate, concurrency: settings.concurrency, total: VALIDATE_WARMUP_PASSES * tokens, metadata: ctx.metadata, outFile: join(OUT, `ghz-${label}-warmup-pass.json`) });
    const [pv, pc, pl] = await go(plan, Math.max(5, settings.warmupS), '-pilot');
    plan = refinePlan(plan, { validate: pv, create: pc, list: pl });
  }
  const probe = await startProbe(ctx, target.pid);
  const [v, c, l] = await go(plan, durationS, '');
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
  return { measured, plan: refinePlan(plan, { validate: v, create: c, list: l }) };
}

interface MixPlan {
  workers: Record<Single, number>;
  rps: Record<Single, number>;
}

/**
 * The plan refined from a run of the mix itself: workers re-split by share x the latencies seen in
 * the mix (Create's rise under contention), with 25% headroom for the capped methods (extra workers
 * cannot overshoot a rate cap); Create and List capped at 9/90 and 1/90 of the Validate rate
 * expected with the new split.
 */
function refinePlan(plan: MixPlan, seen: Record<Single, LoadFigures>): MixPlan {
  const C = settings.concurrency;
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
function mixPlan(single: Record<Single, LoadFigures>): MixPlan {
  const C = settings.concurrency;
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

// ---------------------------------------------------------------------------------------------
// The raw-driver baseline

async function rawDriver(ctx: Context, workload: Workload, dataKey: string, label: string): Promise<Measured> {
  const args = [
    '--import', 'tsx', 'bench/raw-driver.ts',
    '--uri', ctx.mongoUri, '--db', DB_NAME, '--data', ctx.files[dataKey]!,
    '--workload', workload,
    '--concurrency', String(settings.concurrency),
    '--duration', String(settings.durationS),
    '--warmup', String(settings.warmupS),
    '--max-tokens', String(settings.tokensPerUser),
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
  writeJson(join(OUT, `raw-${label}.json`), result);
  // The raw driver reports its own CPU per call.
  return { ...result, ...probed, cpuMsPerCall: result.cpuMsPerCall };
}

// ---------------------------------------------------------------------------------------------
// Data

interface Dataset {
  validateSmall: KeptToken[];
  seedSmallSeconds: number;
}

function validateIndexes(perUser: number, tokensPerUser: number): number[] {
  // Spread over the user's array (never the oldest: nothing evicts validate users anyway).
  return Array.from({ length: perUser }, (_, k) => Math.floor(((k + 0.5) * tokensPerUser) / perUser));
}

async function seedSmall(uri: string): Promise<Dataset> {
  const perUser = Math.max(1, Math.ceil(settings.validateSample / settings.usersSmall));
  const keepAll = validateIndexes(Math.min(perUser, settings.tokensPerUser), settings.tokensPerUser);
  const job = { uri, dbName: DB_NAME, tokensPerUser: settings.tokensPerUser, keepOne: {} };
  log(`seeding ${settings.usersSmall} users x ${settings.tokensPerUser} tokens (validate/list) and ${settings.createUsers} users at the cap (create)`);
  const small = await seedInParallel({ ...job, prefix: 'u', from: 0, count: settings.usersSmall, keepAll });
  const create = await seedInParallel({ ...job, prefix: 'c', from: 0, count: settings.createUsers, keepAll: [] });
  log(`seeded in ${(small.seconds + create.seconds).toFixed(1)} s`);
  const kept = small.kept.sort((x, y) => (x.uid < y.uid ? -1 : x.uid > y.uid ? 1 : 0));
  return { validateSmall: kept.slice(0, settings.validateSample), seedSmallSeconds: small.seconds + create.seconds };
}

/** Grows the validate users to usersLarge; keeps one token of `validateSample` users spread over all of them. */
async function seedLarge(uri: string, db: Db, small: KeptToken[]): Promise<{ kept: KeptToken[]; seconds: number; tokensPerSecond: number }> {
  const from = settings.usersSmall;
  const count = settings.usersLarge - from;
  // One user drawn at random from each of validateSample equal slices of all usersLarge users.
  const step = settings.usersLarge / settings.validateSample;
  const chosen = new Set<number>();
  for (let k = 0; k < settings.validateSample; k++) chosen.add(Math.min(settings.usersLarge - 1, Math.floor(k * step + Math.random() * step)));
  const [index] = validateIndexes(1, settings.tokensPerUser);
  const keepOne: Record<number, number> = {};
  for (const i of chosen) if (i >= from) keepOne[i] = index!;
  const tokens = count * settings.tokensPerUser;
  log(`seeding ${count} more users x ${settings.tokensPerUser} tokens (${(tokens / 1e6).toFixed(1)}M tokens, ${cpus().length} worker processes) ...`);
  let lastReport = 0;
  const result = await seedInParallel(
    { uri, dbName: DB_NAME, prefix: 'u', from, count, tokensPerUser: settings.tokensPerUser, keepAll: [], keepOne },
    (done) => {
      if (done - lastReport >= 10_000 || done === count) {
        lastReport = done;
        log(`  ${done}/${count} users`);
      }
    },
  );
  // Chosen users among the first usersSmall: one of the tokens already kept for them.
  const seen = new Set<string>();
  const fromSmall = small.filter((t) => {
    if (seen.has(t.uid) || !chosen.has(Number(t.uid.slice(1)))) return false;
    seen.add(t.uid);
    return true;
  });
  const kept = [...fromSmall, ...result.kept];
  log(`seeded ${count} users in ${result.seconds.toFixed(1)} s (${(tokens / result.seconds).toFixed(0)} tokens/s); fsync ...`);
  await db.client.db('admin').command({ fsync: 1 });
  return { kept, seconds: result.seconds, tokensPerSecond: tokens / result.seconds };
}

function writeDataFiles(label: string, validate: KeptToken[], createUids: string[], listUids: string[]): Record<string, string> {
  const file = (name: string, value: unknown) => {
    const path = join(OUT, `data-${label}-${name}.json`);
    writeJson(path, value);
    return path;
  };
  return {
    ghzValidate: file('ghz-validate', validate.map((t) => ({ auth_token: t.secret }))),
    ghzCreate: file('ghz-create', createUids.map((uid) => ({ uid, platform: 'ios', user_agent: 'ChatApp/2.3.1 (iOS 17.4)' }))),
    ghzList: file('ghz-list', listUids.map((uid) => ({ uid }))),
    raw: file('raw', { validate: validate.map((t) => ({ uid: t.uid, hash: t.hash })), create: createUids, list: listUids }),
  };
}

// ---------------------------------------------------------------------------------------------
// Canned responses for the no-op server: captured from the real service, so sizes match exactly.

async function captureResponses(port: number, metadata: Record<string, string> | undefined, validate: KeptToken, createUid: string, listUid: string) {
  const client = new AuthTokenServiceClient(`127.0.0.1:${port}`, credentials.createInsecure());
  const md = new Metadata();
  for (const [k, v] of Object.entries(metadata ?? {})) md.set(k, v);
  const call = <T>(method: string, request: object) =>
    new Promise<T>((resolve, reject) =>
      (client as unknown as Record<string, Function>)[method]!.call(client, request, md, (error: Error | null, response: T) =>
        error ? reject(error) : resolve(response),
      ),
    );
  const defaults = (m: keyof typeof AuthTokenServiceService) => AuthTokenServiceService[m].requestDeserialize(Buffer.alloc(0));
  try {
    await call('validateAuthToken', { ...defaults('validateAuthToken'), authToken: validate.secret });
    // The second validation is the steady state: last use already recorded, a read only.
    const validated = await call('validateAuthToken', { ...defaults('validateAuthToken'), authToken: validate.secret });
    const created = await call('createAuthToken', { ...defaults('createAuthToken'), uid: createUid, platform: 'ios', userAgent: 'ChatApp/2.3.1 (iOS 17.4)' });
    const listed = await call('listAuthTokens', { ...defaults('listAuthTokens'), uid: listUid });
    const encoded = {
      validateAuthToken: AuthTokenServiceService.validateAuthToken.responseSerialize(validated as never),
      createAuthToken: AuthTokenServiceService.createAuthToken.responseSerialize(created as never),
      listAuthTokens: AuthTokenServiceService.listAuthTokens.responseSerialize(listed as never),
    };
    const path = join(OUT, 'canned.json');
    writeJson(path, Object.fromEntries(Object.entries(encoded).map(([k, v]) => [k, v.toString('base64')])));
    return { path, sizes: { validate: encoded.validateAuthToken.length, create: encoded.createAuthToken.length, list: encoded.listAuthTokens.length } };
  } finally {
    client.close();
  }
}

// ---------------------------------------------------------------------------------------------
// Soak: RSS of the service over a long mixed run

/** Calls handled so far and the V8 heap / external memory, from the service's /metrics. */
async function serviceMetrics(metricsPort: number) {
  const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  let calls = 0;
  const gauges: Record<string, number> = {};
  const cacheLookups: Record<string, number> = { hit: 0, miss: 0, bypass: 0 };
  for (const line of text.split('\n')) {
    const value = Number(line.slice(line.lastIndexOf(' ') + 1));
    const lookup = /^authtoken_validation_cache_lookups_total\{result="(\w+)"\}/.exec(line)?.[1];
    if (lookup) cacheLookups[lookup] = value;
    else if (line.startsWith('grpc_server_handled_total{')) calls += value;
    else if (/^nodejs_(heap_size_used|heap_size_total|external_memory)_bytes /.test(line)) gauges[line.split(' ')[0]!] = value / 2 ** 20;
  }
  return {
    calls,
    cacheLookups,
    heapUsedMb: round(gauges.nodejs_heap_size_used_bytes ?? NaN, 1)!,
    heapTotalMb: round(gauges.nodejs_heap_size_total_bytes ?? NaN, 1)!,
    externalMb: round(gauges.nodejs_external_memory_bytes ?? NaN, 1)!,
  };
}

function slopePerMinute(points: { t: number; rssMb: number }[]): number {
  const n = points.length;
  if (n < 2) return NaN;
  const mt = points.reduce((a, p) => a + p.t, 0) / n;
  const mr = points.reduce((a, p) => a + p.rssMb, 0) / n;
  let num = 0;
  let den = 0;
  for (const p of points) {
    num += (p.t - mt) * (p.rssMb - mr);
    den += (p.t - mt) ** 2;
  }
  return den > 0 ? (num / den) * 60 : NaN;
}

async function soak(ctx: Context, single: Record<Single, LoadFigures>) {
  const minSeconds = settings.soakMinutes * 60;
  log(`soak: the 90/9/1 mix for at least ${settings.soakMinutes} min and ${settings.soakCalls} calls; RSS every 5 s`);
  const started = Date.now();
  const baseCalls = (await serviceMetrics(ctx.service.metricsPort)).calls;
  const samples: { t: number; rssMb: number; anonMb: number; fileMb: number; calls: number; heapUsedMb: number; heapTotalMb: number; externalMb: number }[] = [];
  let sampling = Promise.resolve();
  const sample = () => {
    sampling = sampling.then(async () => {
      const memory = memoryOf(ctx.service.pid);
      const m = await serviceMetrics(ctx.service.metricsPort);
      if (memory) {
        samples.push({
          t: round((Date.now() - started) / 1000, 1)!,
          rssMb: round(memory.rssMb, 1)!,
          anonMb: round(memory.anonMb, 1)!,
          fileMb: round(memory.fileMb, 1)!,
          ...m,
          calls: m.calls - baseCalls,
        });
      }
    });
  };
  sample();
  const timer = setInterval(sample, 5_000);
  const chunks: { rps: number; p50Ms: number; p99Ms: number; errors: Record<string, number>; shares?: Record<string, number> }[] = [];
  let plan = mixPlan(single);
  try {
    for (let chunk = 0; ; chunk++) {
      const elapsed = (Date.now() - started) / 1000;
      const calls = samples.at(-1)?.calls ?? 0;
      if (elapsed >= minSeconds && calls >= settings.soakCalls) break;
      const seconds = Math.max(5, Math.min(60, elapsed < minSeconds ? Math.ceil(minSeconds - elapsed) : 60));
      // The first chunk starts with a pilot that sets the caps; each chunk then refines them.
      const { measured: result, plan: next } = await ghzMix(ctx, ctx.service, plan, `soak-${chunk}`, seconds, chunk === 0);
      plan = next;
      chunks.push({ rps: round(result.rps, 0)!, p50Ms: round(result.p50Ms)!, p99Ms: round(result.p99Ms)!, errors: result.errors, shares: result.shares });
      sample();
      await sampling;
      log(`  soak ${((Date.now() - started) / 60000).toFixed(1)} min: ${samples.at(-1)?.calls} calls, RSS ${samples.at(-1)?.rssMb} MB, ${result.rps.toFixed(0)} calls/s`);
    }
  } finally {
    clearInterval(timer);
  }
  sample();
  await sampling;
  const totalS = samples.at(-1)!.t;
  const lastHalf = samples.filter((s) => s.t >= totalS / 2);
  const slope = slopePerMinute(lastHalf);
  const growth = (slope * (totalS / 2)) / 60;
  const at1M = samples.find((s) => s.calls >= settings.soakCalls);
  return {
    date: new Date().toISOString(),
    minutes: round(totalS / 60, 1),
    targetCalls: settings.soakCalls,
    calls: samples.at(-1)!.calls,
    rssAfterTargetCallsMb: at1M ? at1M.rssMb : null,
    rssMaxMb: Math.max(...samples.map((s) => s.rssMb)),
    /** V8 heap (total, i.e. reserved) and external memory at the last sample: what RSS is made of. */
    last: samples.at(-1),
    lastHalfSlopeMbPerMin: round(slope, 3),
    lastHalfGrowthMb: round(growth, 1),
    peakRssMb: round(memoryOf(ctx.service.pid)?.peakMb ?? NaN, 1),
    chunks,
    samples,
  };
}

// ---------------------------------------------------------------------------------------------
// Report

function ratio(a: number | undefined, b: number | undefined): number | null {
  return a !== undefined && b !== undefined && b > 0 ? round(a / b, 2) : null;
}

function verdicts(results: Results) {
  const out: { target: string; value: number | null; threshold: string; pass: boolean | null; note?: string }[] = [];
  const v = results.workloads.validate;
  if (v) out.push({ target: 'Validate throughput vs no-op server', value: ratio(v.service.rps, v.noop?.rps), threshold: `>= ${TARGETS.validateVsNoop}x`, pass: pass(ratio(v.service.rps, v.noop?.rps), (x) => x >= TARGETS.validateVsNoop) });
  const c = results.workloads.create;
  if (c) out.push({ target: 'Create-at-cap throughput vs raw driver', value: ratio(c.service.rps, c.raw?.rps), threshold: `>= ${TARGETS.createVsRaw}x`, pass: pass(ratio(c.service.rps, c.raw?.rps), (x) => x >= TARGETS.createVsRaw) });
  const d = results.dataSize;
  if (d) out.push({ target: `Validate p50 at ${d.usersLarge} users vs ${d.usersSmall} users`, value: d.p50Ratio, threshold: `<= ${TARGETS.dataSizeP50}x`, pass: pass(d.p50Ratio, (x) => x <= TARGETS.dataSizeP50), note: d.usersLarge < 100_000 ? `only ${d.usersLarge} users (not the 100,000 of the target)` : undefined });
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

interface TargetFigures {
  service: Measured;
  noop?: Measured;
  raw?: Measured;
}

interface Results {
  meta: Record<string, unknown>;
  messageSizes?: Record<string, number>;
  workloads: Partial<Record<Workload, TargetFigures & { ratios: Record<string, number | null> }>>;
  dataSize?: {
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
  };
  rss?: { serviceRssAtEndMb: number | null; servicePeakMb: number | null; anonAtEndMb: number | null; fileAtEndMb: number | null; samples: { t: number; rssMb: number }[] };
  soak?: Awaited<ReturnType<typeof soak>>;
  verdicts?: ReturnType<typeof verdicts>;
}

/**
 * A model, not a measurement: if one call cost exactly a no-op gRPC call plus the raw driver's
 * operations, run back to back on the same CPU, throughput would be 1 / (1/noop + 1/raw).
 */
function composedRps(f: TargetFigures): number | undefined {
  return f.noop?.rps && f.raw?.rps ? 1 / (1 / f.noop.rps + 1 / f.raw.rps) : undefined;
}

function ratiosOf(f: TargetFigures): Record<string, number | null> {
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

const fmt = (x: number | null | undefined, digits = 2) => (x === null || x === undefined || !Number.isFinite(x) ? '–' : x.toFixed(digits));
const fmtRps = (x: number | null | undefined) => (x === null || x === undefined || !Number.isFinite(x) ? '–' : Math.round(x).toString());

function markdown(results: Results): string {
  const m = results.meta;
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
  lines.push('## Verdicts', '', '| target | measured | threshold | result |', '| --- | --- | --- | --- |');
  for (const v of results.verdicts ?? []) {
    lines.push(`| ${v.target} | ${fmt(v.value)} | ${v.threshold} | ${v.pass === null ? 'n/a' : v.pass ? 'PASS' : '**MISS**'}${v.note ? ` (${v.note})` : ''} |`);
  }
  lines.push('');
  lines.push('## Throughput and latency per workload', '');
  lines.push('| workload | service rps | p50 ms | p99 ms | no-op rps | p50 | p99 | raw driver rps | p50 | p99 | rps vs no-op | rps vs raw | rps vs composed | p50 vs no-op | p50 vs raw |');
  lines.push('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const [w, f] of measuredWorkloads(results)) {
    lines.push(
      `| ${LABEL[w]} | ${fmtRps(f.service.rps)} | ${fmt(f.service.p50Ms)} | ${fmt(f.service.p99Ms)} | ${fmtRps(f.noop?.rps)} | ${fmt(f.noop?.p50Ms)} | ${fmt(f.noop?.p99Ms)} | ${fmtRps(f.raw?.rps)} | ${fmt(f.raw?.p50Ms)} | ${fmt(f.raw?.p99Ms)} | ${fmt(f.ratios.rpsVsNoop)} | ${fmt(f.ratios.rpsVsRaw)} | ${fmt(f.ratios.rpsVsComposed)} | ${fmt(f.ratios.p50VsNoop)} | ${fmt(f.ratios.p50VsRaw)} |`,
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
  const d = results.dataSize;
  if (d) {
    lines.push('', '## Data size: Validate at two sizes', '');
    lines.push(`Against a second service process with the validation cache off (VALIDATION_CACHE_ENTRIES=0), so that every call reads the database: with the cache on, both sizes would be answered from memory.`, '');
    lines.push(`${d.usersSmall.toLocaleString('en')} vs ${d.usersLarge.toLocaleString('en')} users × ${d.tokensPerUser} tokens; ${d.validateSample} sample tokens each (spread over ${Math.min(d.usersSmall, d.validateSample)} and ${Math.min(d.usersLarge, d.validateSample)} users). Seeding the extra ${(d.usersLarge - d.usersSmall).toLocaleString('en')} users took ${fmt(d.seedSeconds, 0)} s (${fmtRps(d.seedTokensPerSecond)} tokens/s).`, '');
    lines.push('| users | service rps | p50 ms | p99 ms | raw driver rps | p50 ms | p99 ms |', '| ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
    lines.push(`| ${d.usersSmall} | ${fmtRps(d.small.service.rps)} | ${fmt(d.small.service.p50Ms)} | ${fmt(d.small.service.p99Ms)} | ${fmtRps(d.small.raw?.rps)} | ${fmt(d.small.raw?.p50Ms)} | ${fmt(d.small.raw?.p99Ms)} |`);
    lines.push(`| ${d.usersLarge} | ${fmtRps(d.large.service.rps)} | ${fmt(d.large.service.p50Ms)} | ${fmt(d.large.service.p99Ms)} | ${fmtRps(d.large.raw?.rps)} | ${fmt(d.large.raw?.p50Ms)} | ${fmt(d.large.raw?.p99Ms)} |`);
    lines.push('', `p50 ratio (large / small): service ${fmt(d.p50Ratio)}, raw driver ${fmt(d.rawP50Ratio)}.`);
  }
  if (results.rss) {
    lines.push('', `## Memory`, '', `Service RSS at the end of the run: ${fmt(results.rss.serviceRssAtEndMb, 0)} MB (${fmt(results.rss.fileAtEndMb, 0)} MB file-backed, ${fmt(results.rss.anonAtEndMb, 0)} MB anonymous); peak (VmHWM): ${fmt(results.rss.servicePeakMb, 0)} MB.`);
  }
  const s = results.soak;
  if (s) {
    lines.push('', `## Soak (${s.date})`, '', `${s.minutes} min of the 90/9/1 mix, ${s.calls.toLocaleString('en')} calls: RSS after ${s.targetCalls.toLocaleString('en')} calls ${fmt(s.rssAfterTargetCallsMb, 0)} MB, max ${fmt(s.rssMaxMb, 0)} MB, peak (VmHWM) ${fmt(s.peakRssMb, 0)} MB; last-half slope ${fmt(s.lastHalfSlopeMbPerMin, 3)} MB/min (${fmt(s.lastHalfGrowthMb, 1)} MB over the last half).`);
    if (s.last) lines.push('', `At the end: RSS ${fmt(s.last.rssMb, 0)} MB, of which ${fmt(s.last.fileMb, 0)} MB file-backed (the node binary's code) and ${fmt(s.last.anonMb, 0)} MB anonymous; V8 heap ${fmt(s.last.heapTotalMb, 0)} MB reserved (${fmt(s.last.heapUsedMb, 0)} MB used), external (Buffers) ${fmt(s.last.externalMb, 0)} MB.`);
    lines.push('', `Throughput per chunk (calls/s): ${s.chunks.map((c) => c.rps).join(', ')}.`);
  }
  if (results.meta.plot) lines.push('', '![throughput and p99 per workload](latest.png)');
  return `${lines.join('\n')}\n`;
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

const LABEL: Record<Workload, string> = {
  validate: 'Validate',
  create: 'Create at cap',
  list: 'List (100 tokens)',
  mix: 'Mix 90/9/1',
};

function printTables(results: Results): void {
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
  if (results.rss) console.log(`== Service RSS: ${fmt(results.rss.serviceRssAtEndMb, 0)} MB at end, peak ${fmt(results.rss.servicePeakMb, 0)} MB`);
  if (results.soak) console.log(`== Soak: RSS after ${results.soak.targetCalls} calls ${fmt(results.soak.rssAfterTargetCallsMb, 0)} MB; last-half growth ${fmt(results.soak.lastHalfGrowthMb, 1)} MB`);
  console.log('== Verdicts');
  for (const v of results.verdicts ?? []) console.log(`  ${v.pass === null ? 'n/a ' : v.pass ? 'PASS' : 'MISS'}  ${v.target}: ${fmt(v.value)} (${v.threshold})${v.note ? ` [${v.note}]` : ''}`);
  console.log(`\n(LOG_LEVEL=${settings.logLevel} for the service: at info, its access log line per call would dominate the CPU.)`);
}

async function plot(resultsDir: string): Promise<boolean> {
  if (flags['no-plot']) return false;
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

// ---------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  mkdirSync(OUT, { recursive: true });
  mkdirSync(RESULTS_DIR, { recursive: true });
  if (!settings.serviceEntry && !existsSync(join(REPO_ROOT, 'dist/src/main.js'))) throw new Error('dist/src/main.js is missing: run `npm run build` first (`npm run bench` does)');
  const loadStart = loadavg().map((x) => x.toFixed(2)).join(' ');
  log(`settings: ${JSON.stringify(settings)}; results -> ${RESULTS_DIR}`);

  const ghz = await ensureGoTool('ghz');
  const binary = await ensureMongodBinary(loadConfig({ MONGOD_CACHE_DIR: process.env.MONGOD_CACHE_DIR }).MONGOD_CACHE_DIR);
  const dataDir = await mkdtemp(join(tmpdir(), 'authtoken-bench-mongod-'));
  const mongod = await startEmbeddedMongod({ binary, dataDir });
  const client = await MongoClient.connect(mongod.uri, { promoteBuffers: true });
  const db = client.db(DB_NAME);
  const admin = client.db('admin');
  const status = await admin.command({ serverStatus: 1 });
  const mongodPid = Number(status.pid);
  log(`mongod ${status.version} pid ${mongodPid}, data in ${dataDir}`);

  let service: (Child & { metricsPort: number }) | undefined;
  /** The same service with VALIDATION_CACHE_ENTRIES=0, for the data-size comparison. */
  let uncached: (Child & { metricsPort: number }) | undefined;
  let noop: Child | undefined;
  let sampler: RssSampler | undefined;
  const results: Results = { meta: {}, workloads: {} };
  try {
    const dataset = await seedSmall(mongod.uri);
    const createUids = Array.from({ length: settings.createUsers }, (_, i) => uidOf('c', i));
    const listUids = Array.from({ length: settings.usersSmall }, (_, i) => uidOf('u', i));
    const files = writeDataFiles('small', dataset.validateSmall, createUids, listUids);

    const profileDir = join(OUT, 'profile');
    if (settings.cpuProf) mkdirSync(profileDir, { recursive: true });
    // Production runs with API keys: one key of full scope, presented on every call.
    const apiKey = settings.apiKey ? generateApiKey() : undefined;
    const serviceOptions = {
      mongoUri: mongod.uri,
      dbName: DB_NAME,
      logLevel: settings.logLevel,
      maxTokensPerUser: settings.tokensPerUser,
      apiKeyEntry: apiKey ? keyEntry('bench', 'full', apiKey) : undefined,
      cpuProfDir: settings.cpuProf ? profileDir : undefined,
      entry: settings.serviceEntry,
      nodeOptions: settings.serviceNodeOptions?.split(/\s+/).filter(Boolean),
    };
    service = await startService(serviceOptions);
    sampler = new RssSampler(service.pid);
    log(`service pid ${service.pid} on port ${service.port}`);
    const metadata = apiKey ? { authorization: `Bearer ${apiKey}` } : undefined;
    const ctx: Context = { ghz, admin, mongodPid, service, mongoUri: mongod.uri, files, metadata };

    const canned = await captureResponses(service.port, metadata, dataset.validateSmall[0]!, createUids[0]!, listUids[0]!);
    results.messageSizes = canned.sizes;
    noop = await startNoopServer(canned.path);
    ctx.noop = noop;
    log(`no-op server pid ${noop.pid} on port ${noop.port}; response sizes ${JSON.stringify(canned.sizes)}`);

    const dataKey: Record<Single, string> = { validate: 'ghzValidate', create: 'ghzCreate', list: 'ghzList' };
    const single: Partial<Record<Single, { service: Measured; noop: Measured }>> = {};
    for (const w of settings.workloads) {
      log(`workload ${LABEL[w]} ...`);
      // Each repeat runs the three targets back to back; per target, the run with the median
      // throughput is kept (all throughputs are recorded in `repeats`).
      const rounds: TargetFigures[] = [];
      for (let r = 0; r < settings.repeat; r++) {
        const tag = settings.repeat > 1 ? `-r${r + 1}` : '';
        if (w === 'mix') {
          const s = await singleFigures(ctx, single, dataKey, settings.baselines);
          rounds.push({
            service: (await ghzMix(ctx, service, mixPlan(byTarget(s, 'service')), `mix-service${tag}`, settings.durationS)).measured,
            noop: settings.baselines ? (await ghzMix(ctx, noop, mixPlan(byTarget(s, 'noop')), `mix-noop${tag}`, settings.durationS)).measured : undefined,
            raw: settings.baselines ? await rawDriver(ctx, 'mix', 'raw', `mix${tag}`) : undefined,
          });
        } else {
          rounds.push({
            service: await ghzSingle(ctx, service, w, dataKey[w], `${w}-service${tag}`),
            noop: settings.baselines ? await ghzSingle(ctx, noop, w, dataKey[w], `${w}-noop${tag}`) : undefined,
            raw: settings.baselines ? await rawDriver(ctx, w, 'raw', `${w}${tag}`) : undefined,
          });
        }
        if (settings.repeat > 1) log(`  round ${r + 1}: service ${fmtRps(rounds.at(-1)!.service.rps)}/s | no-op ${fmtRps(rounds.at(-1)!.noop?.rps)}/s | raw ${fmtRps(rounds.at(-1)!.raw?.rps)}/s`);
      }
      const figures: TargetFigures = {
        service: median(rounds.map((f) => f.service))!,
        noop: median(rounds.map((f) => f.noop)),
        raw: median(rounds.map((f) => f.raw)),
      };
      if (w !== 'mix') single[w] = { service: figures.service, noop: figures.noop as Measured };
      results.workloads[w] = { ...figures, ratios: ratiosOf(figures) };
      warnOnErrors(LABEL[w], figures);
      log(`  service ${fmtRps(figures.service.rps)}/s p50 ${fmt(figures.service.p50Ms)} ms | no-op ${fmtRps(figures.noop?.rps)}/s | raw ${fmtRps(figures.raw?.rps)}/s`);
    }

    if (settings.dataSize) {
      // The cache would serve both sizes from memory; what must stay flat as data grows is the
      // database lookup, so this section runs against a second service process without the cache.
      uncached = await startService({ ...serviceOptions, env: { VALIDATION_CACHE_ENTRIES: '0' }, cpuProfDir: undefined });
      log(`data size: Validate at ${settings.usersSmall} users, cache off (service pid ${uncached.pid}) ...`);
      const small = {
        service: await ghzSingle(ctx, uncached, 'validate', 'ghzValidate', 'size-small-service'),
        raw: settings.baselines ? await rawDriver(ctx, 'validate', 'raw', 'size-small') : undefined,
      };
      const large = await seedLarge(mongod.uri, db, dataset.validateSmall);
      const largeFiles = writeDataFiles('large', large.kept, createUids, listUids);
      ctx.files = { ...ctx.files, ghzValidateLarge: largeFiles.ghzValidate!, rawLarge: largeFiles.raw! };
      log(`data size: Validate at ${settings.usersLarge} users ...`);
      const largeFigures = {
        service: await ghzSingle(ctx, uncached, 'validate', 'ghzValidateLarge', 'size-large-service'),
        raw: settings.baselines ? await rawDriver(ctx, 'validate', 'rawLarge', 'size-large') : undefined,
      };
      results.dataSize = {
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
      // Subsequent runs (the soak) keep using the small sample.
      await uncached.stop();
      uncached = undefined;
    }

    if (settings.soak) {
      const s = await singleFigures(ctx, single, dataKey, false);
      results.soak = await soak(ctx, byTarget(s, 'service'));
    }

    const memory = memoryOf(service.pid);
    results.rss = {
      serviceRssAtEndMb: round(memory?.rssMb ?? NaN, 1),
      servicePeakMb: round(memory?.peakMb ?? NaN, 1),
      anonAtEndMb: round(memory?.anonMb ?? NaN, 1),
      fileAtEndMb: round(memory?.fileMb ?? NaN, 1),
      samples: sampler.samples.map((s) => ({ t: round(s.t, 0)!, rssMb: round(s.rssMb, 1)! })) };
    results.meta = {
      date: new Date().toISOString(),
      cores: cpus().length,
      cpuModel: cpus()[0]?.model ?? 'unknown',
      memoryGb: round(Number(sh('awk', ['/MemTotal/ {print $2}', '/proc/meminfo'])) / 1024 / 1024, 1),
      node: process.version,
      mongod: status.version,
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
      loadavgStart: loadStart,
      loadavgEnd: loadavg().map((x) => x.toFixed(2)).join(' '),
      sharedMachine: process.env.BENCH_NOTE ?? '',
      official,
    };
  } finally {
    sampler?.stop();
    await noop?.stop();
    await uncached?.stop();
    await service?.stop();
    await client.close();
    await mongod.stop();
    await rm(dataDir, { recursive: true, force: true });
  }

  if (settings.cpuProf) {
    const profileDir = join(OUT, 'profile');
    const newest = readdirSync(profileDir).filter((f) => f.endsWith('.cpuprofile')).sort().at(-1);
    if (newest) {
      const summary = summarise(JSON.parse(readFileSync(join(profileDir, newest), 'utf8')), 30);
      const folded = join(profileDir, newest.replace(/\.cpuprofile$/, '.folded'));
      writeFileSync(folded, summary.folded);
      const svg = folded.replace(/\.folded$/, '.svg');
      writeFileSync(svg, renderFlamegraph(summary.folded, `auth-token-service --cpu-prof, workloads: ${settings.workloads.join(', ')}`));
      const text = formatSummary(summary);
      writeFileSync(join(profileDir, newest.replace(/\.cpuprofile$/, '.summary.txt')), `${text}\n`);
      console.log(`\n${text}\n\nprofile: ${join(profileDir, newest)}\nflame graph: ${svg} (folded stacks: ${folded})`);
    }
  }

  // A soak-only run adds its soak to the figures already there; a run without a soak keeps the last one.
  const previousPath = join(RESULTS_DIR, 'latest.json');
  if (existsSync(previousPath) && (soakOnly || !results.soak)) {
    const previous = JSON.parse(readFileSync(previousPath, 'utf8')) as Results;
    if (soakOnly) {
      previous.soak = results.soak;
      Object.assign(results, { ...previous, meta: previous.meta });
    } else if (previous.soak) {
      results.soak = previous.soak;
    }
  }
  results.verdicts = verdicts(results);
  writeFileSync(previousPath, `${JSON.stringify(results, null, 2)}\n`);
  results.meta.plot = await plot(RESULTS_DIR);
  writeFileSync(previousPath, `${JSON.stringify(results, null, 2)}\n`);
  writeFileSync(join(RESULTS_DIR, 'latest.md'), markdown(results));
  printTables(results);
  log(`results: ${join(RESULTS_DIR, 'latest.json')}, latest.md${results.meta.plot ? ', latest.png' : ''}`);
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

/** Single-method figures per target for planning the mix; measured here if not run already. */
async function singleFigures(
  ctx: Context,
  single: Partial<Record<Single, { service: Measured; noop: Measured }>>,
  dataKey: Record<Single, string>,
  withNoop: boolean,
) {
  for (const w of ['validate', 'create', 'list'] as const) {
    if (single[w] && (single[w].noop || !withNoop)) continue;
    log(`  (measuring ${LABEL[w]} alone first, to plan the mix)`);
    single[w] = {
      service: await ghzSingle(ctx, ctx.service, w, dataKey[w], `${w}-service-plan`),
      noop: withNoop && ctx.noop ? await ghzSingle(ctx, ctx.noop, w, dataKey[w], `${w}-noop-plan`) : (undefined as never),
    };
  }
  return single as Record<Single, { service: Measured; noop: Measured }>;
}

function byTarget(s: Record<Single, { service: Measured; noop: Measured }>, target: 'service' | 'noop'): Record<Single, LoadFigures> {
  return { validate: s.validate[target], create: s.create[target], list: s.list[target] };
}

function packageVersion(name: string): string {
  try {
    return (JSON.parse(readFileSync(join(REPO_ROOT, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.stack : error);
  process.exit(1);
});
