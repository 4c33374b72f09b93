// Child processes of the benchmark (the service from dist/, the no-op server) and what /proc says
// about them: resident memory and CPU time.
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { credentials, Metadata } from '@grpc/grpc-js';
import { HealthCheckResponse_ServingStatus, HealthClient } from '../../gen/health/v1/health';
import { memoryOf } from '../../test/support/process-memory';
import { serveCommand } from '../../test/support/serve-command';
import { startServerProcess } from '../../test/support/server-process';
import { processStat } from '../../src/embedded-mongod/leftover-mongod';

export const REPO_ROOT = resolve(__dirname, '../..');
/** The service's per-uid create limit in the bench: on, as in production, but never reached (the raw driver's create takes the same bucket). */
export const UID_LIMIT_PER_MINUTE = 100_000;

export interface Child {
  process: ChildProcess;
  pid: number;
  port: number;
  output(): string;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves on exit. */
  stop(graceMs?: number): Promise<void>;
}

/** Spawns a process, keeps the tail of its output, and knows how to stop it. */
function track(child: ChildProcess, port: number): Child & { exited: Promise<void> } {
  const tail: string[] = [];
  const remember = (line: string) => {
    tail.push(line);
    if (tail.length > 200) tail.shift();
  };
  createInterface({ input: child.stdout! }).on('line', remember);
  createInterface({ input: child.stderr! }).on('line', (line) => remember(`[stderr] ${line}`));
  const exited = new Promise<void>((done) =>
    child.once('exit', (code, signal) => {
      remember(`[exited: code ${code}, signal ${signal}]`);
      done();
    }),
  );
  const running = () => child.exitCode === null && child.signalCode === null;
  return {
    process: child,
    pid: child.pid!,
    port,
    exited,
    output: () => tail.join('\n'),
    async stop(graceMs = 20_000) {
      if (!running()) return;
      child.kill('SIGTERM');
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<'late'>((done) => {
        timer = setTimeout(() => done('late'), graceMs);
      });
      if ((await Promise.race([exited, late])) === 'late' && running()) {
        child.kill('SIGKILL');
        await exited;
      }
      clearTimeout(timer);
    },
  };
}

/** Every child started here, killed if the benchmark itself dies. */
const children = new Set<ChildProcess>();
process.once('exit', () => children.forEach((c) => c.exitCode === null && c.kill('SIGKILL')));


export interface ServiceOptions {
  mongoUri: string;
  dbName: string;
  logLevel: string;
  maxTokensPerUser: number;
  /** API_KEYS entry (name:scope:sha256hex); none: the service lets every local caller in. */
  apiKeyEntry?: string;
  /** Directory for --cpu-prof output; no profiling when undefined. */
  cpuProfDir?: string;
  /** The service's entry point; dist/src/main.js by default (another build, to compare a change). */
  entry?: string;
  /** Extra node flags for the service process, after those of `npm run serve`. */
  nodeOptions?: string[];
  /** Extra environment, e.g. VALIDATION_CACHE_ENTRIES=0 to measure the database path. */
  env?: Record<string, string>;
}

/** The node flags production runs the service with: those of `npm run serve` (package.json). */
export function productionNodeFlags(): string[] {
  return serveCommand().nodeFlags;
}

/**
 * Starts the service from dist/ as `npm run serve` runs it (test/support/server-process.ts), and
 * resolves once AuthTokenService is SERVING (the database answered).
 */
export async function startService(options: ServiceOptions): Promise<Child & { metricsPort: number }> {
  const service = await startServerProcess(
    {
      MONGODB_URI: options.mongoUri,
      MONGODB_DB: options.dbName,
      LOG_LEVEL: options.logLevel,
      MAX_TOKENS_PER_USER: String(options.maxTokensPerUser),
      API_KEYS: options.apiKeyEntry ?? '',
      // The limiters stay on (their code runs on every call) but far above the load: the
      // benchmark measures the work, not the refusals.
      RATE_LIMIT_PER_KEY: '1000000',
      UID_CREATE_LIMIT_PER_MINUTE: String(UID_LIMIT_PER_MINUTE),
      ...options.env,
    },
    {
      served: true,
      entry: options.entry,
      nodeFlags: [...(options.nodeOptions ?? []), ...(options.cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${options.cpuProfDir}`] : [])],
    },
  );
  const child = { process: service.process, pid: service.process.pid!, port: service.port, output: service.output, stop: service.stop };
  if (await waitServing(service.port, 'authtoken.v1.AuthTokenService', 60_000)) {
    return { ...child, stop: reportingCrash('service', child), metricsPort: service.metricsPort };
  }
  await service.stop();
  throw new Error(`the service did not become ready:\n${service.output()}`);
}

/** Starts bench/noop-server.ts and resolves once it prints its "listening" line. */
export async function startNoopServer(cannedFile: string): Promise<Child> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'bench/noop-server.ts', '--canned', cannedFile], {
    cwd: REPO_ROOT,
    env: process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  const port = await new Promise<number | undefined>((resolve) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      try {
        const entry = JSON.parse(line) as { msg?: string; port?: number };
        if (entry.msg === 'listening') resolve(entry.port);
      } catch {
        // not a JSON line
      }
    });
    child.once('exit', () => resolve(undefined));
  });
  const tracked = track(child, port ?? 0);
  if (port === undefined) throw new Error(`the no-op server did not start:\n${tracked.output()}`);
  return { ...tracked, stop: reportingCrash('no-op server', tracked) };
}

/**
 * Prints a target's last output should it exit before the benchmark stops it: otherwise a crash
 * mid-run shows only as ghz's connection errors. Returns the stop that marks an exit as expected.
 */
function reportingCrash(name: string, child: Pick<Child, 'process' | 'output' | 'stop'>): Child['stop'] {
  let stopping = false;
  child.process.once('exit', (code, signal) => {
    if (stopping) return;
    process.stderr.write(`[bench] the ${name} (pid ${child.process.pid}) exited mid-run, code ${code}, signal ${signal}; its last output:\n${child.output()}\n`);
  });
  return (graceMs) => {
    stopping = true;
    return child.stop(graceMs);
  };
}

/** Polls the gRPC health check until `service` is SERVING. */
async function waitServing(port: number, service: string, limitMs: number): Promise<boolean> {
  const client = new HealthClient(`127.0.0.1:${port}`, credentials.createInsecure());
  const until = Date.now() + limitMs;
  try {
    while (Date.now() < until) {
      const serving = await new Promise<boolean>((resolve) =>
        client.check({ service }, new Metadata(), { deadline: Date.now() + 1_000 }, (error, response) =>
          resolve(!error && response?.status === HealthCheckResponse_ServingStatus.SERVING),
        ),
      );
      if (serving) return true;
      await new Promise((wake) => setTimeout(wake, 200));
    }
    return false;
  } finally {
    client.close();
  }
}

/** CPU time (user + system) a process has used so far, in ms. */
export function cpuMsOf(pid: number): number {
  return processStat(pid)?.cpuMs ?? NaN;
}

/**
 * Busy, stolen and total jiffies of the whole machine: the share of CPU in use during a run, and
 * the share a virtual machine's host kept for others (steal), which makes one run slower than the next.
 */
export function machineCpu(): { busy: number; stolen: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
  const values = line.trim().split(/\s+/).slice(1).map(Number);
  const total = values.reduce((a, b) => a + b, 0);
  const idle = (values[3] ?? 0) + (values[4] ?? 0); // idle + iowait
  return { busy: total - idle, stolen: values[7] ?? 0, total };
}

/** Samples a process's RSS every `intervalMs` until stopped. */
export class RssSampler {
  readonly samples: { t: number; rssMb: number }[] = [];
  private timer: NodeJS.Timeout;
  private readonly started = Date.now();

  constructor(
    private readonly pid: number,
    intervalMs = 1_000,
  ) {
    this.sample();
    this.timer = setInterval(() => this.sample(), intervalMs);
    this.timer.unref();
  }

  sample(): number | undefined {
    const memory = memoryOf(this.pid);
    if (memory) this.samples.push({ t: (Date.now() - this.started) / 1000, rssMb: memory.rssMb });
    return memory?.rssMb;
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
