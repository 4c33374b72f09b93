// The deadline a call's work must respect, passed explicitly from the gRPC layer through the use
// cases to storage, which turns it into per-operation maxTimeMS: an expired call stops working
// against the database. (Explicit rather than AsyncLocalStorage: on Node 20 that hooks every
// promise of every call, about 9% of a cached ValidateAuthToken's CPU.)

/** Calls without a deadline still get a bounded database budget. */
export const DEFAULT_CALL_BUDGET_MS = 30_000;

/**
 * When a call's work must be done, in epoch ms. Made only by `callDeadline`, so every deadline that
 * reaches storage is finite and bounded by DEFAULT_CALL_BUDGET_MS.
 */
export type Deadline = number & { readonly __brand: 'Deadline' };

/** The deadline for a call whose gRPC deadline is `deadline` (Infinity for none). */
export function callDeadline(deadline: Date | number, now = Date.now()): Deadline {
  return Math.min(deadline instanceof Date ? deadline.getTime() : deadline, now + DEFAULT_CALL_BUDGET_MS) as Deadline;
}
