// ghz, the load generator: runs one method against one address with JSON output, and turns the
// report into the figures the benchmark prints.
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { REPO_ROOT } from './processes';

export const SERVICE = 'authtoken.v1.AuthTokenService';

export interface GhzRun {
  ghz: string;
  address: string;
  /** Method name, e.g. "ValidateAuthToken". */
  method: string;
  /** JSON array of request messages, used round robin. */
  dataFile: string;
  concurrency: number;
  /** Seconds; or `total` calls. */
  durationS?: number;
  total?: number;
  /** Rate limit (calls/s) for this ghz process; 0 for none. */
  rps?: number;
  outFile: string;
  /** Call metadata (e.g. the API key). */
  metadata?: Record<string, string>;
}

interface GhzReport {
  count: number;
  /** Nanoseconds. */
  total: number;
  average: number;
  rps: number;
  statusCodeDistribution?: Record<string, number>;
  errorDistribution?: Record<string, number>;
  latencyDistribution?: { percentage: number; latency: number }[] | null;
  details?: { latency: number; status: string }[] | null;
}

export interface LoadFigures {
  /** Successful calls per second. */
  rps: number;
  count: number;
  durationS: number;
  avgMs: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  errors: Record<string, number>;
}

export interface GhzResult extends LoadFigures {
  errorSamples: string[];
  /** Latencies (ms) of the successful calls, for merging runs that ran side by side. */
  latenciesMs: number[];
}

export async function runGhz(run: GhzRun): Promise<GhzResult> {
  const args = [
    '--insecure',
    '--protoset',
    join(REPO_ROOT, 'gen/descriptor.binpb'),
    '--call',
    `${SERVICE}/${run.method}`,
    '--data-file',
    run.dataFile,
    // Plain JSON messages: no Go template work per call on the client.
    '--disable-template-functions',
    '--disable-template-data',
    '--concurrency',
    String(run.concurrency),
    ...(run.metadata ? ['--metadata', JSON.stringify(run.metadata)] : []),
    '--connections',
    '1',
    '--format',
    'json',
    '--output',
    run.outFile,
    ...(run.durationS !== undefined
      ? ['--duration', `${run.durationS}s`, '--duration-stop', 'ignore']
      : ['--total', String(run.total ?? 200)]),
    ...(run.rps ? ['--rps', String(Math.max(1, Math.round(run.rps)))] : []),
    run.address,
  ];
  const timeoutMs = ((run.durationS ?? 600) + 120) * 1000;
  await new Promise<void>((resolve, reject) =>
    execFile(run.ghz, args, { timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 }, (error, _stdout, stderr) =>
      error ? reject(new Error(`ghz ${run.method} failed: ${error.message}\n${stderr}`)) : resolve(),
    ),
  );
  const report = JSON.parse(await readFile(run.outFile, 'utf8')) as GhzReport;
  const ok = (report.details ?? []).filter((d) => d.status === 'OK').map((d) => d.latency / 1e6);
  const errors = Object.fromEntries(Object.entries(report.statusCodeDistribution ?? {}).filter(([code]) => code !== 'OK'));
  const errorSamples = Object.keys(report.errorDistribution ?? {}).slice(0, 3);
  return { ...figures(ok, report.total / 1e9), errors, errorSamples, latenciesMs: ok };
}

/** Throughput and latency percentiles of successful calls over `durationS`. */
export function figures(latenciesMs: number[], durationS: number): LoadFigures {
  const sorted = Float64Array.from(latenciesMs).sort();
  const at = (p: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]! : NaN);
  let sum = 0;
  for (const l of latenciesMs) sum += l;
  return {
    rps: latenciesMs.length / durationS,
    count: latenciesMs.length,
    durationS,
    avgMs: latenciesMs.length ? sum / latenciesMs.length : NaN,
    p50Ms: at(50),
    p90Ms: at(90),
    p99Ms: at(99),
    errors: {},
  };
}
