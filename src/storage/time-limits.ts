// How the token store talks to MongoDB within a call: each operation's time limit, what is left
// of the call's deadline, and nothing once its client has given up.
import type { Deadline } from '../domain/deadline';
import { deadlineExceeded } from '../domain/errors';

/**
 * The database time an operation may take: what is left of the call's deadline. Once it has
 * passed, or the caller has given up, no further operation starts (and MongoDB stops one that runs
 * over its time, with code 50). An operation already sent runs to its end: stopping it midway
 * would cost the pooled connection it runs on (see src/domain/deadline.ts).
 */
export function timeLimit(deadline: Deadline): { maxTimeMS: number } {
  const givenUp = deadline.givenUp?.();
  if (givenUp) throw givenUp;
  const remaining = Math.floor(deadline.at - Date.now());
  if (remaining <= 0) throw deadlineExceeded();
  return { maxTimeMS: remaining };
}
