// How the store runs a write that takes tokens out of a user's active array: the one update
// (token-writes.ts) that moves them to the document's pending list, the cluster time at which it
// applied (the validation cache waits for it: committed-writes.ts), and the archive copy that
// follows (pending-archive.ts), which the call waits for only until its deadline.
import type { ClientSession, Collection, Filter, MongoClient, Timestamp } from 'mongodb';
import { ObjectId } from 'mongodb';
import type { ArchiveReason } from '../domain/model';
import type { Deadline } from '../domain/deadline';
import { EXISTING_USER, type PendingArchiveDoc, type UserDoc } from './documents';
import { PENDING_STATE, type PendingArchive, type PendingState } from './pending-archive';
import { timeLimit } from './time-limits';
import { type AlsoChanging, movingTokens, PENDING_HAS_ROOM, type TokenCondition } from './token-writes';

export class TokenMoves {
  constructor(
    private readonly client: MongoClient,
    private readonly users: Collection<UserDoc>,
    private readonly pending: PendingArchive,
  ) {}

  /**
   * Moves the tokens matching `cond` of the user (and `filter`) to pending, then copies them.
   * Resolves with the tokens this write moved, or null when it matched no document.
   */
  async move(
    uid: string,
    filter: Filter<UserDoc>,
    cond: TokenCondition,
    reason: ArchiveReason,
    now: Date,
    deadline: Deadline,
    also?: AlsoChanging,
  ): Promise<{ moved: PendingArchiveDoc[] | null; committedAt: Timestamp | undefined }> {
    const write = newWrite();
    const { result: after, committedAt } = await this.applied((session) =>
      this.users.findOneAndUpdate({ _id: uid, ...EXISTING_USER, ...PENDING_HAS_ROOM, ...filter }, movingTokens(cond, reason, now, write, also), {
        session,
        // The pending list, its own entries and any left before, and which user it is.
        projection: PENDING_STATE,
        returnDocument: 'after',
        ...timeLimit(deadline),
      }),
    );
    if (!after) return { moved: null, committedAt };
    await this.copyPending(after, deadline);
    return { moved: movedBy(after, write), committedAt };
  }

  /**
   * Copies what is pending in `user` (this write's tokens and any an earlier write left). The write
   * has applied whatever happens here: a failed copy leaves the tokens pending (archived, listed,
   * never valid) for the user's next write or the sweep (pending-archive.ts), and the call succeeds.
   * The call waits for the copy until its deadline, not longer: an applied write must not be
   * answered DEADLINE_EXCEEDED, which its client would retry. The copy goes on regardless.
   */
  async copyPending(user: PendingState, deadline: Deadline): Promise<void> {
    // Most creates move nothing (below the cap): no copy, no timer.
    if (!user.pending?.length && user.deletedAt === undefined) return;
    const copying = this.pending.copyIfRoom(user).then(
      () => undefined,
      () => undefined,
    );
    const leftMs = deadline.at - Date.now();
    if (!Number.isFinite(leftMs)) return copying;
    let timer: NodeJS.Timeout | undefined;
    const deadlinePassed = new Promise<void>((done) => (timer = setTimeout(done, Math.max(0, leftMs))));
    await Promise.race([copying, deadlinePassed]);
    clearTimeout(timer);
  }

  /** Runs one write and says when it applied: the cluster time the cache's change feed waits for. */
  applied<T>(write: (session: ClientSession) => Promise<T>): Promise<{ result: T; committedAt: Timestamp | undefined }> {
    return this.client.withSession(async (session) => ({ result: await write(session), committedAt: session.operationTime }));
  }
}

/** A new write's name, which marks the tokens it moves to pending. */
export function newWrite(): string {
  return new ObjectId().toHexString();
}

/** The pending tokens `write` moved. */
export function movedBy(user: Pick<UserDoc, 'pending'>, write: string): PendingArchiveDoc[] {
  return (user.pending ?? []).filter((p) => p.write === write);
}
