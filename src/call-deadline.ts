// The deadline of the gRPC call being served, available to storage without threading it through
// the domain: storage turns it into per-operation maxTimeMS, so an expired call stops working
// against the database.
import { AsyncLocalStorage } from 'node:async_hooks';

/** Calls without a deadline still get a bounded database budget. */
export const DEFAULT_CALL_BUDGET_MS = 30_000;

const deadlines = new AsyncLocalStorage<number>();

/** Runs `work` with `deadline` (epoch ms; Infinity for none) as the current call's deadline. */
export function withCallDeadline<T>(deadline: number, work: () => T): T {
  return deadlines.run(Math.min(deadline, Date.now() + DEFAULT_CALL_BUDGET_MS), work);
}

/** Milliseconds left for the current call (the default budget outside of any call). */
export function remainingCallTimeMs(): number {
  const deadline = deadlines.getStore();
  return deadline === undefined ? DEFAULT_CALL_BUDGET_MS : deadline - Date.now();
}
