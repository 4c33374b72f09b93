// Starts the real service as a separate OS process (`node --import tsx src/main.ts`, or from dist/
// exactly as `npm run serve` runs it), so that tests can run several replicas against one mongod,
// kill one at a chosen moment, or measure its memory; the benchmark starts its service here too.
// The port is picked by the process itself (PORT=0) and read from its "listening" log line; at a
// LOG_LEVEL that hides that line, ports are picked here and readiness is the liveness health check.
import { type ChildProcess, spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { credentials, Metadata } from '@grpc/grpc-js';
import { CONFIG_KEYS as SERVICE_CONFIG_KEYS } from '../../src/config';
import { freePort } from '../../src/embedded-mongod/mongod-process';
import { HealthCheckResponse_ServingStatus, HealthClient } from '../../gen/health/v1/health';
import { AuthTokenServiceClient, AuthTokenServiceService } from '../../gen/authtoken/v1/auth_token_service';
import { UserServiceClient, UserServiceService } from '../../gen/authtoken/v1/user_service';
import { pollUntil } from './poll';
import { serveCommand } from './serve-command';
import { type PromisedClient, promised } from './promised-client';

const REPO_ROOT = resolve(__dirname, '../..');
/** Lines of output kept for error messages. */
const TAIL_LINES = 200;
/** Bounds on waits that only matter when something is broken; they never synchronise a test. */
const START_LIMIT_MS = 60_000;
const STOP_LIMIT_MS = 20_000;

export interface ServerProcess {
  port: number;
  metricsPort: number;
  process: ChildProcess;
  users: PromisedClient<typeof UserServiceService>;
  tokens: PromisedClient<typeof AuthTokenServiceService>;
  /** The last lines the process wrote (stdout and stderr), for diagnostics. */
  output(): string;
  /** Sends `signal` (SIGKILL by default) and resolves once the process has exited. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Closes the clients, then SIGTERM (SIGKILL if it does not exit in time); resolves on exit. */
  stop(): Promise<void>;
}

/** Every child still running, so that none outlives the test worker even if a test forgets one. */
const running = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const child of running) child.kill('SIGKILL');
  });
}

export interface LaunchOptions {
  /** Run dist/ (build it first) with the node flags and environment of `npm run serve`. */
  served?: boolean;
  /** Run `npm start` itself, as a new user does (the process is npm's). */
  npmStart?: boolean;
  /** With `served`: another build's entry point instead of dist/src/main.js (to compare a change). */
  entry?: string;
  /** With `served`: node flags after those of `npm run serve` (e.g. --cpu-prof). */
  nodeFlags?: string[];
}

/** Levels at which the service logs its "listening" line. */
const LISTENING_LOGGED = ['trace', 'debug', 'info'];

/**
 * Starts the service process with HOST=127.0.0.1, LOG_LEVEL=info, rate limits off and `env` on
 * top, and resolves once it listens. Rejects with the process's output if it exits first.
 */
export async function startServerProcess(env: Record<string, string>, options: LaunchOptions = {}): Promise<ServerProcess> {
  const quiet = !LISTENING_LOGGED.includes(env.LOG_LEVEL ?? 'info');
  // A port taken between choosing it and binding it: try again with others.
  for (let attempt = 1; ; attempt++) {
    const ports = quiet ? { PORT: String(await freePort()), METRICS_PORT: String(await freePort()) } : { PORT: '0', METRICS_PORT: '0' };
    try {
      return await launch({ ...ports, ...env }, options, quiet);
    } catch (error) {
      if (!quiet || attempt === 3 || !/EADDRINUSE/.test(String(error))) throw error;
    }
  }
}

async function launch(env: Record<string, string>, options: LaunchOptions, quiet: boolean): Promise<ServerProcess> {
  installExitHook();
  const serve = serveCommand();
  const { served = false, npmStart = false } = options;
  const [command, argv] = npmStart
    ? ['npm', ['start']]
    : [
        process.execPath,
        served ? [...serve.nodeFlags, ...(options.nodeFlags ?? []), options.entry ?? serve.entry] : ['--import', 'tsx', 'src/main.ts'],
      ];
  const child = spawn(command, argv, {
    cwd: REPO_ROOT,
    env: {
      ...inheritedEnv(),
      ...(served ? serve.env : {}),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'info',
      // As in test/support/service.ts: rate limits are tested on their own.
      RATE_LIMIT_PER_KEY: '0',
      UID_CREATE_LIMIT_PER_MINUTE: '0',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);

  const tail: string[] = [];
  const remember = (line: string) => {
    tail.push(line);
    if (tail.length > TAIL_LINES) tail.shift();
  };
  const output = () => tail.join('\n');
  const exited = new Promise<void>((done) =>
    child.once('exit', (code, signal) => {
      running.delete(child);
      remember(`[process exited: code ${code}, signal ${signal}]`);
      done();
    }),
  );
  const isRunning = () => child.exitCode === null && child.signalCode === null;

  // Both streams are read to the end, always: a full pipe would block the child's writes.
  createInterface({ input: child.stderr! }).on('line', (line) => remember(`[stderr] ${line}`));
  const listening = new Promise<{ port: number; metricsPort: number }>((found) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      remember(line);
      const entry = parseJson(line);
      if (entry?.msg === 'listening' && typeof entry.port === 'number') found({ port: entry.port, metricsPort: Number(entry.metricsPort) });
    });
  });
  const health = quiet ? new HealthClient(`127.0.0.1:${env.PORT}`, credentials.createInsecure()) : undefined;
  const ready = health
    ? pollUntil('the service to listen', () => isLive(health), (live) => live || !isRunning(), { timeoutMs: START_LIMIT_MS }).then(
        () => ({ port: Number(env.PORT), metricsPort: Number(env.METRICS_PORT) }),
        () => 'too slow' as const,
      )
    : listening;

  let startTimer: NodeJS.Timeout | undefined;
  const tooSlow = new Promise<'too slow'>((done) => {
    startTimer = setTimeout(() => done('too slow'), START_LIMIT_MS);
  });
  const outcome = await Promise.race([ready, exited.then(() => 'exited' as const), tooSlow]);
  clearTimeout(startTimer);
  health?.close();
  if (typeof outcome !== 'object') {
    if (isRunning()) child.kill('SIGKILL');
    await exited;
    throw new Error(
      outcome === 'exited'
        ? `service process exited before listening:\n${output()}`
        : `service process did not listen within ${START_LIMIT_MS} ms:\n${output()}`,
    );
  }

  const { port, metricsPort } = outcome;
  const address = `127.0.0.1:${port}`;
  const userClient = new UserServiceClient(address, credentials.createInsecure());
  const tokenClient = new AuthTokenServiceClient(address, credentials.createInsecure());
  let clientsClosed = false;
  const closeClients = () => {
    if (clientsClosed) return;
    clientsClosed = true;
    userClient.close();
    tokenClient.close();
  };

  const kill = async (signal: NodeJS.Signals = 'SIGKILL') => {
    if (isRunning()) child.kill(signal);
    await exited;
  };

  return {
    port,
    metricsPort,
    process: child,
    users: promised(UserServiceService, userClient),
    tokens: promised(AuthTokenServiceService, tokenClient),
    output,
    kill,
    async stop() {
      closeClients();
      if (!isRunning()) return;
      child.kill('SIGTERM');
      let stopTimer: NodeJS.Timeout | undefined;
      const tooSlowToStop = new Promise<'too slow'>((done) => {
        stopTimer = setTimeout(() => done('too slow'), STOP_LIMIT_MS);
      });
      const stopped = await Promise.race([exited.then(() => 'exited' as const), tooSlowToStop]);
      clearTimeout(stopTimer);
      if (stopped === 'too slow') await kill('SIGKILL');
    },
  };
}

/** The environment without what would change the service's behaviour or its ports: tracing, TLS, config. */
function inheritedEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(
    Object.entries(process.env).filter(([key]) => !key.startsWith('OTEL_') && !key.startsWith('TLS_') && !CONFIG_KEYS.has(key)),
  );
}

const CONFIG_KEYS = new Set(SERVICE_CONFIG_KEYS);

/** Whether the liveness health check ("") answers SERVING: the gRPC server listens. */
async function isLive(client: InstanceType<typeof HealthClient>): Promise<boolean> {
  return new Promise<boolean>((resolve) =>
    client.check({ service: '' }, new Metadata(), { deadline: Date.now() + 1_000 }, (error, response) =>
      resolve(!error && response?.status === HealthCheckResponse_ServingStatus.SERVING),
    ),
  );
}

function parseJson(line: string): Record<string, unknown> | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    return JSON.parse(line) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}
