// A transport limit being hit is counted every time, and logged at most once a minute per limit:
// an attacker must not be able to turn refusals into a flood of log lines.
import type { Logger } from './logger';
import type { Metrics } from './metrics';

const LIMIT_WARNING_INTERVAL_MS = 60_000;

export function reportLimits<Limit extends string>(metrics: Metrics, log: Logger): (limit: Limit) => void {
  const lastWarned = new Map<Limit, number>();
  return (limit) => {
    metrics.limited(limit);
    const now = Date.now();
    if (now - (lastWarned.get(limit) ?? -Infinity) < LIMIT_WARNING_INTERVAL_MS) return;
    lastWarned.set(limit, now);
    log.warn({ limit }, 'transport limit reached (each time is counted in authtoken_transport_limited_total)');
  };
}
