// What the gRPC layer needs from the rest of the process for every call, and the one place a
// call's outcome is recorded (metrics and the access log), whether a handler ran or the caller was
// refused at admission.
import { randomUUID } from 'node:crypto';
import { status } from '@grpc/grpc-js';
import type { Logger } from '../observability/logger';
import type { AccessControl } from './access';

export interface CallHooks {
  log: Logger;
  /** Called when a call starts; the returned function when it ends, with the status name. */
  observe(path: string): (code: string) => void;
  inFlight: InFlightCalls;
  access: AccessControl;
}

/**
 * Counts calls admitted and not yet over, and handlers still running, so that shutdown can wait
 * for exactly those. Every begin() is matched by one end().
 */
export class InFlightCalls {
  private active = 0;
  private waiters: (() => void)[] = [];

  begin(): void {
    this.active++;
  }

  end(): void {
    if (--this.active === 0) this.waiters.splice(0).forEach((wake) => wake());
  }

  idle(): Promise<void> {
    return this.active === 0 ? Promise.resolve() : new Promise((wake) => this.waiters.push(wake));
  }
}

/** Records a call's end: its status, who made it, and for INTERNAL the error. */
export type CallRecording = (code: status, who: CallerOf, error?: unknown) => void;
/** The API key name (undefined if none was needed or given) and the client's x-request-id. */
type CallerOf = { readonly caller: string | undefined; readonly requestId: string | undefined };

/**
 * Counts a call as started in the metrics, and returns what records its end: the outcome metric
 * and one access-log line (always for INTERNAL, with the error; otherwise at level info).
 */
export function recordCall(hooks: CallHooks, path: string): CallRecording {
  const observed = hooks.observe(path);
  const started = process.hrtime.bigint();
  return (code, who, error) => {
    const failed = code === status.INTERNAL;
    if (failed || hooks.log.isLevelEnabled('info')) {
      const line = {
        method: path.slice(1),
        code: status[code],
        durationMs: Number(process.hrtime.bigint() - started) / 1e6,
        // Read only here: off the path of a call that is not logged.
        requestId: who.requestId ?? randomUUID(),
        key: who.caller,
      };
      if (failed) hooks.log.error({ ...line, err: error }, 'call failed');
      else hooks.log.info(line, 'call');
    }
    observed(status[code]);
  };
}
