// The one bounded poll of the tests: for states the service reaches asynchronously (a metric
// counted, a log line written, a probe turning SERVING). Bounded, so a state that never comes
// fails the test with the last thing seen, rather than hanging it.

/**
 * Runs `attempt` until `done(result)` holds (`what` says what is awaited, for the error) or `timeoutMs` passes: a bounded poll on an external
 * condition, for states the service reaches asynchronously. Returns the last result and how many
 * attempts it took; throws with the last result when the time is up.
 */
export async function pollUntil<T>(
  what: string,
  attempt: () => Promise<T>,
  done: (result: T) => boolean,
  { timeoutMs, intervalMs = 100 }: { timeoutMs: number; intervalMs?: number },
): Promise<{ result: T; attempts: number; elapsedMs: number }> {
  const started = performance.now();
  for (let attempts = 1; ; attempts++) {
    const result = await attempt();
    const elapsedMs = performance.now() - started;
    if (done(result)) return { result, attempts, elapsedMs };
    if (elapsedMs > timeoutMs) {
      throw new Error(`timed out after ${Math.round(elapsedMs)} ms waiting for ${what}; last: ${JSON.stringify(result)}`);
    }
    await new Promise((wake) => setTimeout(wake, intervalMs));
  }
}
