// How the token store talks to MongoDB within a call: each operation's time limit (what is left
// of the call's deadline, and nothing once its client has given up), and the transactions that
// archive tokens, which answer UNAVAILABLE as soon as the database is found unreachable.
import type { ClientSession, MongoClient } from 'mongodb';
import type { Deadline } from '../domain/deadline';
import { deadlineExceeded, serviceUnavailable } from '../domain/errors';
import type { Committed } from './committed-writes';
import { isDatabaseGoingAway } from './driver-errors';

/**
 * The database time an operation may take: what is left of the call's deadline. Once it has
 * passed, or the caller has given up, no further operation starts (and MongoDB stops one that runs
 * over its time, with code 50). An operation already sent runs to its end: stopping it midway
 * would cost the pooled connection it runs on (see src/domain/deadline.ts).
 */
export function timeLimit(deadline: Deadline): { maxTimeMS: number } {
  stillWanted(deadline);
  const remaining = Math.floor(deadline.at - Date.now());
  if (remaining <= 0) throw deadlineExceeded();
  return { maxTimeMS: remaining };
}

/** Throws why the caller gave up, if it has. */
export function stillWanted(deadline: Deadline): void {
  const reason = deadline.givenUp?.();
  if (reason) throw reason;
}

/**
 * Runs `work` in a transaction. Every transaction of the store revokes tokens (or may), so it
 * returns when it committed a change to `users` (`changedUsers`), for the caches to wait for.
 */
export async function inTransaction<T>(
  client: MongoClient,
  deadline: Deadline,
  work: (session: ClientSession) => Promise<T>,
  changedUsers: (result: T) => boolean = () => true,
): Promise<Committed<T>> {
  // withTransaction reruns the work on transient errors: right for write conflicts, but an
  // unreachable database would only make every rerun wait out server selection again, and a node
  // shutting down answers every rerun at once, for as long as it quiesces (up to 15 s). And before
  // it gives up, it aborts the transaction, which waits out server selection once more (5 s after
  // the first 5 s): so the call answers UNAVAILABLE as soon as the work finds the database gone,
  // and the abort finishes in the background.
  let unreachable!: (error: unknown) => void;
  const foundUnreachable = new Promise<never>((_, reject) => (unreachable = reject));
  const once = async (session: ClientSession) => {
    try {
      const result = await work(session);
      // A caller that gave up while the last statement ran gets no commit: withTransaction aborts.
      stillWanted(deadline);
      return result;
    } catch (error) {
      if (!isDatabaseGoingAway(error)) throw error;
      const failure = serviceUnavailable(error);
      unreachable(failure);
      throw failure;
    }
  };
  const transaction = client.withSession(async (session) => {
    const result = await session.withTransaction(() => once(session), {
      readConcern: { level: 'snapshot' },
      writeConcern: { w: 'majority' },
      maxCommitTimeMS: timeLimit(deadline).maxTimeMS,
    });
    return { result, committedAt: session.operationTime };
  });
  transaction.catch(() => undefined); // when it loses the race below, its failure is already answered
  const { result, committedAt } = await Promise.race([transaction, foundUnreachable]);
  return { result, committedAt: changedUsers(result) ? committedAt : undefined };
}
