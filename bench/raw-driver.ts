// Baseline (2) of the benchmark: the database cost by itself. The same MongoDB operations each
// workload makes the service issue, with the raw driver, the same client options as
// src/storage/database.ts (and so the same default pool, maxPoolSize 100), the same concurrency and
// duration, timing every operation.
//
//   node --import tsx bench/raw-driver.ts --uri <mongodb://...> --db bench --data <file.json> \
//     --workload validate|create|create-transaction|list|mix --concurrency 32 --duration 15 --warmup 3
//
// --data: JSON { validate: [{ uid, hash }] (hash: base64 SHA-256), create: [uid], list: [uid] }.
// Prints one JSON line with the result on stdout.
//
// What "the same operations" means, per workload: bench/raw-driver-ops.ts.
//   mix       90% validate, 9% create, 1% list, chosen at random per operation.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { MongoClient } from 'mongodb';
import { type Data, type Op, Ops } from './raw-driver-ops';

type Workload = Op | 'mix';

const { values } = parseArgs({
  options: {
    uri: { type: 'string' },
    db: { type: 'string', default: 'bench' },
    data: { type: 'string' },
    workload: { type: 'string', default: 'validate' },
    concurrency: { type: 'string', default: '32' },
    duration: { type: 'string', default: '15' },
    warmup: { type: 'string', default: '3' },
    'max-tokens': { type: 'string', default: '100' },
    /** The service's UID_CREATE_LIMIT_PER_MINUTE (0: off): its bucket is part of the issuing update. */
    'uid-limit-per-minute': { type: 'string', default: '0' },
  },
});

const MIX: [Op, number][] = [
  ['validate', 0.9],
  ['create', 0.09],
  ['list', 0.01],
];

function pickMixed(): Op {
  let r = Math.random();
  for (const [op, share] of MIX) {
    if ((r -= share) < 0) return op;
  }
  return 'validate';
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

function stats(latencies: number[], seconds: number) {
  const sorted = Float64Array.from(latencies).sort();
  const sum = latencies.reduce((a, b) => a + b, 0);
  return {
    count: latencies.length,
    rps: latencies.length / seconds,
    avgMs: latencies.length ? sum / latencies.length : NaN,
    p50Ms: percentile(sorted, 50),
    p90Ms: percentile(sorted, 90),
    p99Ms: percentile(sorted, 99),
  };
}

/** `concurrency` workers issuing `pick()` operations back to back until `untilMs`. */
async function drive(
  ops: Ops,
  pick: () => Op,
  concurrency: number,
  untilMs: number,
  record?: (op: Op, ms: number) => void,
  onError?: (op: Op, error: unknown) => void,
): Promise<void> {
  const worker = async () => {
    while (performance.now() < untilMs) {
      const op = pick();
      const started = performance.now();
      try {
        await ops.run(op);
        const ended = performance.now();
        // Operations still running at the end are not counted, as ghz closes them at its deadline.
        if (ended <= untilMs) record?.(op, ended - started);
      } catch (error) {
        onError?.(op, error);
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

interface Settings {
  uri: string;
  dbName: string;
  workload: Workload;
  concurrency: number;
  durationS: number;
  warmupS: number;
  data: Data;
  maxTokens: number;
  uidLimitPerMinute: number;
}

function readSettings(): Settings {
  if (!values.uri || !values.data) throw new Error('--uri and --data are required');
  const workload = values.workload as Workload;
  if (!['validate', 'create', 'create-transaction', 'list', 'mix'].includes(workload)) throw new Error(`unknown workload ${workload}`);
  return {
    uri: values.uri,
    dbName: values.db!,
    workload,
    concurrency: Number(values.concurrency),
    durationS: Number(values.duration),
    warmupS: Number(values.warmup),
    data: JSON.parse(readFileSync(values.data, 'utf8')) as Data,
    maxTokens: Number(values['max-tokens']),
    uidLimitPerMinute: Number(values['uid-limit-per-minute']),
  };
}

/** A client with the service's options (src/storage/database.ts); maxPoolSize left at the default, 100. */
async function connect(uri: string): Promise<MongoClient> {
  const client = new MongoClient(uri, {
    promoteBuffers: true,
    writeConcern: { w: 'majority' },
    retryWrites: true,
    serverSelectionTimeoutMS: 5_000,
  });
  await client.connect();
  return client;
}

/**
 * Warm-up: for Validate, one pass over every token (any last-use writes due happen here), then
 * the timed warm-up of the same workload. Resolves with the first few errors it met.
 */
async function warmUp(ops: Ops, pick: () => Op, { workload, concurrency, warmupS }: Settings): Promise<string[]> {
  const warmupErrors: string[] = [];
  const noteWarmupError = (_op: Op, error: unknown) => {
    if (warmupErrors.length < 5) warmupErrors.push(String(error));
  };
  if (workload === 'validate' || workload === 'mix') {
    let i = 0;
    const pass = async () => {
      while (i < ops.validateCount) {
        i++;
        await ops.run('validate').catch((error: unknown) => noteWarmupError('validate', error));
      }
    };
    await Promise.all(Array.from({ length: concurrency }, pass));
  }
  await drive(ops, pick, concurrency, performance.now() + warmupS * 1000, undefined, noteWarmupError);
  return warmupErrors;
}

interface Measured {
  latencies: Record<Op, number[]>;
  all: number[];
  errors: Record<string, number>;
  errorSamples: string[];
  seconds: number;
  cpu: NodeJS.CpuUsage;
}

/** The measured run: `durationS` of the workload, every operation timed. */
async function measure(ops: Ops, pick: () => Op, { concurrency, durationS }: Settings): Promise<Measured> {
  const latencies: Record<Op, number[]> = { validate: [], create: [], 'create-transaction': [], list: [] };
  const all: number[] = [];
  const errors: Record<string, number> = {};
  const errorSamples: string[] = [];
  // Tells bench/run.ts to start its counters (database operations, mongod CPU) now.
  process.stdout.write(`${JSON.stringify({ phase: 'measure' })}\n`);
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  await drive(
    ops,
    pick,
    concurrency,
    started + durationS * 1000,
    (op, ms) => {
      latencies[op].push(ms);
      all.push(ms);
    },
    (op, error) => {
      errors[op] = (errors[op] ?? 0) + 1;
      if (errorSamples.length < 5) errorSamples.push(`${op}: ${String(error)}`);
    },
  );
  const seconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  return { latencies, all, errors, errorSamples, seconds, cpu };
}

/** The one JSON line bench/run.ts reads. */
function resultLine({ workload, concurrency }: Settings, measured: Measured, warmupErrors: string[]): string {
  const { latencies, all, errors, errorSamples, seconds, cpu } = measured;
  const perOp = Object.fromEntries(
    (Object.entries(latencies) as [Op, number[]][]).filter(([, l]) => l.length > 0).map(([op, l]) => [op, stats(l, seconds)]),
  );
  const result = {
    workload,
    concurrency,
    durationS: seconds,
    ...stats(all, seconds),
    perOp,
    errors,
    errorSamples,
    warmupErrors,
    cpuMsPerCall: all.length ? (cpu.user + cpu.system) / 1000 / all.length : NaN,
  };
  return `${JSON.stringify(result)}\n`;
}

async function main(): Promise<void> {
  const settings = readSettings();
  const { workload } = settings;
  const client = await connect(settings.uri);
  const ops = new Ops(client, settings.dbName, settings.data, settings.maxTokens, settings.uidLimitPerMinute);
  const pick: () => Op = workload === 'mix' ? pickMixed : () => workload;
  const warmupErrors = await warmUp(ops, pick, settings);
  const measured = await measure(ops, pick, settings);
  await client.close();
  process.stdout.write(resultLine(settings, measured, warmupErrors));
}

main().catch((error: unknown) => {
  process.stderr.write(`raw-driver failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
