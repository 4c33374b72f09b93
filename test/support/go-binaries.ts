// Runs the real Go clients (grpcurl, grpc_health_probe) built by scripts/go-tools.ts and captures
// what a shell user would see: exit code, stdout and stderr.
import { execFile } from 'node:child_process';

export interface RunResult {
  /** Process exit code; null only if it was killed by a signal. */
  code: number | null;
  stdout: string;
  stderr: string;
  durationMs: number;
}

/** Runs `binary` with `args` (no shell), never rejecting on a non-zero exit. */
export function runBinary(binary: string, args: readonly string[], { timeoutMs = 30_000 } = {}): Promise<RunResult> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    execFile(binary, args, { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      const durationMs = performance.now() - started;
      if (error && typeof error.code !== 'number' && !error.killed && error.signal == null) {
        // Could not start the binary at all (ENOENT, EACCES, ...).
        reject(error);
        return;
      }
      const code = error ? (typeof error.code === 'number' ? error.code : null) : 0;
      resolve({ code, stdout, stderr, durationMs });
    });
  });
}
