// Watches whether the database can serve the service, for the readiness health status.
import type { MongoClient } from 'mongodb';

export interface HealthWatch {
  stop(): void;
}

/**
 * Every `intervalMs`: connects if need be, pings the primary (failing after `timeoutMs`) and, until it has succeeded
 * once, runs `prepare` (index creation). Reports `true` while both have succeeded and `false`
 * otherwise; only changes are reported, starting with the first result.
 */
export function watchDatabaseHealth(
  client: MongoClient,
  prepare: () => Promise<void>,
  onChange: (ready: boolean) => void,
  { intervalMs = 1_000, timeoutMs = 2_000 } = {},
): HealthWatch {
  let last: boolean | undefined;
  let prepared = false;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;

  const check = async () => {
    // connect() is a no-op once connected, and needed until then: a client whose first connection
    // attempt failed stays closed until connect() is called again.
    const reachable = await client
      .connect()
      .then(() => client.db('admin').command({ ping: 1 }, { signal: AbortSignal.timeout(timeoutMs) }))
      .then(() => true, () => false);
    if (reachable && !prepared) prepared = await prepare().then(() => true, () => false);
    if (stopped) return;
    const ready = reachable && prepared;
    if (ready !== last) {
      last = ready;
      onChange(ready);
    }
    timer = setTimeout(check, intervalMs);
  };
  void check();
  return {
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}
