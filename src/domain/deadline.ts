// The deadline a call's work must respect, passed explicitly from the gRPC layer through the use
// cases to storage, which turns it into per-operation maxTimeMS (and hands the driver its signal,
// when it has one): a call that expires stops working against the database. The gRPC layer sets
// no signal yet (see src/grpc/unary.ts); the storage port honours one, and its contract tests say so.
// (Explicit rather than AsyncLocalStorage: on Node 20 that hooks every promise of every call,
// about 9% of a cached ValidateAuthToken's CPU.)

/** Calls without a deadline still get a bounded database budget. */
export const DEFAULT_CALL_BUDGET_MS = 30_000;

/** When a call's work must be done, and whether its caller still wants it. Made by `callDeadline`. */
export interface Deadline {
  /** Epoch ms; finite, at most DEFAULT_CALL_BUDGET_MS from the call's start. */
  readonly at: number;
  /** When aborted, no further work starts and work in flight stops; its reason is the DomainError to answer. */
  readonly signal: AbortSignal | undefined;
}

/** The deadline for a call whose gRPC deadline is `deadline` (Infinity for none). */
export function callDeadline(deadline: Date | number, signal?: AbortSignal, now = Date.now()): Deadline {
  return { at: Math.min(deadline instanceof Date ? deadline.getTime() : deadline, now + DEFAULT_CALL_BUDGET_MS), signal };
}
