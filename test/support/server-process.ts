// Starts the real service as a separate OS process (`node --import tsx src/main.ts`, or from dist/
// exactly as `npm run serve` runs it), so that tests can run several replicas against one mongod,
// kill one at a chosen moment, or measure its memory. The port is picked by the process itself
// (PORT=0) and read from its "listening" log line.
import { type ChildProcess, spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { credentials } from '@grpc/grpc-js';
import { AuthTokenServiceClient, AuthTokenServiceService } from '../../gen/authtoken/v1/auth_token_service';
import { UserServiceClient, UserServiceService } from '../../gen/authtoken/v1/user_service';
import { serveCommand } from './serve-command';
import { type PromisedClient, promised } from './service';

const REPO_ROOT = resolve(__dirname, '../..');
/** Lines of output kept for error messages. */
const TAIL_LINES = 200;
/** Bounds on waits that only matter when something is broken; they never synchronise a test. */
const START_LIMIT_MS = 60_000;
const STOP_LIMIT_MS = 20_000;

export interface ServerProcess {
  port: number;
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

/**
 * Starts the service process with PORT=0, HOST=127.0.0.1, METRICS_PORT=0, rate limits off and `env` on top, and
 * resolves once it logs "listening". Rejects with the process's output if it exits first.
 * `served`: run dist/ (build it first) with the node flags and environment of `npm run serve`.
 * `npmStart`: run `npm start` itself, as a new user does (the process is npm's).
 */
export async function startServerProcess(
  env: Record<string, string>,
  { served = false, npmStart = false } = {},
): Promise<ServerProcess> {
  installExitHook();
  const serve = serveCommand();
  const [command, argv] = npmStart
    ? ['npm', ['start']]
    : [process.execPath, served ? [...serve.nodeFlags, serve.entry] : ['--import', 'tsx', 'src/main.ts']];
  const child = spawn(command, argv, {
    cwd: REPO_ROOT,
    env: {
      ...process.env,
      ...(served ? serve.env : {}),
      PORT: '0',
      HOST: '127.0.0.1',
      METRICS_PORT: '0',
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
  const listening = new Promise<number>((found) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      remember(line);
      const entry = parseJson(line);
      if (entry?.msg === 'listening' && typeof entry.port === 'number') found(entry.port);
    });
  });

  let startTimer: NodeJS.Timeout | undefined;
  const tooSlow = new Promise<'too slow'>((done) => {
    startTimer = setTimeout(() => done('too slow'), START_LIMIT_MS);
  });
  const outcome = await Promise.race([listening, exited.then(() => 'exited' as const), tooSlow]);
  clearTimeout(startTimer);
  if (typeof outcome !== 'number') {
    if (isRunning()) child.kill('SIGKILL');
    await exited;
    throw new Error(
      outcome === 'exited'
        ? `service process exited before listening:\n${output()}`
        : `service process did not log "listening" within ${START_LIMIT_MS} ms:\n${output()}`,
    );
  }

  const port = outcome;
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

function parseJson(line: string): Record<string, unknown> | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    return JSON.parse(line) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}
