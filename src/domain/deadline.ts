// The deadline a call's work must respect, passed explicitly from the gRPC layer through the use
// cases to storage, which turns it into per-operation maxTimeMS and asks, before each database
// operation, whether the caller still wants the work: a call that expires, or that its client
// cancels, starts no further database work (each change is one atomic update: applied whole or
// not at all).
// (Explicit rather than AsyncLocalStorage: on Node 20 that hooks every promise of every call,
// about 9% of a cached ValidateAuthToken's CPU.)
//
// Asked, not an AbortSignal: a signal needs a listener on every call and, handed to the driver,
// closes the pooled connection of the operation it aborts. Both were tried; with them, the memory
// of the hostile slow-reader test stayed up after the attack in 4 of 16 runs.
import type { DomainError } from './errors';

/** Calls without a deadline still get a bounded database budget. */
export const DEFAULT_CALL_BUDGET_MS = 30_000;

/** Why the caller no longer wants the call's work (the error to answer), or undefined while it does. */
export type GivenUp = () => DomainError | undefined;

/** When a call's work must be done, and whether its caller still wants it. Made by `callDeadline`. */
export interface Deadline {
  /** Epoch ms; finite, at most DEFAULT_CALL_BUDGET_MS from the call's start. */
  readonly at: number;
  /** Asked before each database operation; undefined for work no caller can abandon. */
  readonly givenUp: GivenUp | undefined;
}

/** The deadline for a call whose gRPC deadline is `deadline` (Infinity for none). */
export function callDeadline(deadline: Date | number, givenUp?: GivenUp, now = Date.now()): Deadline {
  return { at: Math.min(deadline instanceof Date ? deadline.getTime() : deadline, now + DEFAULT_CALL_BUDGET_MS), givenUp };
}
