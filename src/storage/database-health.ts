// Watches whether the database can serve writes, for the readiness health status.
import type { MongoClient } from 'mongodb';

export interface HealthWatch {
  stop(): void;
}

/**
 * Pings the primary every `intervalMs`; reports `false` when a ping fails or takes longer than
 * `timeoutMs`, and `true` once one succeeds again. Reports only changes, starting with the first result.
 */
export function watchDatabaseHealth(
  client: MongoClient,
  onChange: (reachable: boolean) => void,
  { intervalMs = 1_000, timeoutMs = 2_000 } = {},
): HealthWatch {
  let last: boolean | undefined;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;

  const check = async () => {
    const reachable = await client
      .db('admin')
      .command({ ping: 1 }, { signal: AbortSignal.timeout(timeoutMs) })
      .then(() => true, () => false);
    if (stopped) return;
    if (reachable !== last) {
      last = reachable;
      onChange(reachable);
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
