// The second half of every write that revokes tokens (token-writes.ts): copying the user's pending
// tokens into archived_tokens, then removing them from the user's document. The copy is keyed by
// token id, so a token copied twice (two replicas finishing the same user, or a retry after a
// crash between the copy and the removal) is archived once, and its REVOKED event (an insert into
// archived_tokens) happens once. Nothing is removed from `pending` before it is in the archive.
//
// Whoever finds pending tokens copies them: the write that moved them, right after; any later
// write of that user (it reads them back with its own); and the sweep below, at start-up and
// then periodically, for the users of a replica that died in between. A deleted user's document
// goes the same way once its tokens are copied, and the sweep finds it even with none.
import type { Collection } from 'mongodb';
import type { Logger } from '../observability/logger';
import { DELETED_USERS_INDEX, PENDING_INDEX } from './indexes';
import { type ArchivedTokenDoc, archivedDocOf, type UserDoc } from './documents';

const DUPLICATE_KEY = 11000;
/** The time one copy may take: it finishes a write that has already been acknowledged, or is due. */
export const COPY_BUDGET_MS = 10_000;
/** Users one page of the sweep reads. */
const SWEEP_PAGE = 100;
/** Pages one sweep pass reads at most (the next pass goes on from there). */
const SWEEP_PAGES = 10;
/**
 * Copies running at once, at most. A call waits for its copy only until its deadline, and the copy
 * goes on after it (token-moves.ts): callers with short deadlines against a slow archive
 * could otherwise pile up copies without end. Past it, a write leaves its tokens pending for the
 * sweep, which takes them one user at a time.
 */
export const MAX_COPIES_IN_FLIGHT = 64;

/**
 * What the sweep walks, each in uid order through a partial index of its own: the users with tokens
 * pending, and the deleted users' documents, which a deleted user without tokens leaves with
 * nothing pending should its removal fail.
 */
const SWEPT = {
  pending: { since: 'pending.archiveTime', index: PENDING_INDEX },
  deletedUsers: { since: 'deletedAt', index: DELETED_USERS_INDEX },
} as const;
export type Swept = keyof typeof SWEPT;

export class PendingArchive {
  private copiesInFlight = 0;

  constructor(
    private readonly users: Collection<UserDoc>,
    private readonly archive: Collection<ArchivedTokenDoc>,
    private readonly maxCopiesInFlight = MAX_COPIES_IN_FLIGHT,
  ) {}

  /**
   * `copy`, unless MAX_COPIES_IN_FLIGHT copies are running already: then the tokens stay pending
   * (archived, never valid) for the sweep. Resolves with whether it copied.
   */
  async copyIfRoom(user: PendingState): Promise<boolean> {
    if (this.copiesInFlight >= this.maxCopiesInFlight) return false;
    this.copiesInFlight++;
    try {
      await this.copy(user);
      return true;
    } finally {
      this.copiesInFlight--;
    }
  }

  /**
   * Copies the pending tokens of `user` (its document as read) into the archive, then removes them
   * from the document. A deleted user's document goes once its tokens are copied: only the one
   * read (by its generation), never a later user's of the same uid, deleted since.
   */
  async copy({ _id: uid, pending = [], deletedAt, generation }: PendingState): Promise<void> {
    if (pending.length > 0) {
      await this.archive
        .insertMany(pending.map(archivedDocOf), { ordered: false, maxTimeMS: COPY_BUDGET_MS })
        .catch((error: unknown) => {
          if (!onlyDuplicates(error)) throw error;
        });
    }
    if (deletedAt !== undefined) {
      // No write adds to a deleted user's pending tokens: these are all of them.
      await this.users.deleteOne(
        { _id: uid, deletedAt: { $exists: true }, generation: generation ?? { $exists: false } },
        { maxTimeMS: COPY_BUDGET_MS },
      );
    } else if (pending.length > 0) {
      await this.users.updateOne({ _id: uid }, { $pull: { pending: { _id: { $in: pending.map((p) => p._id) } } } }, { maxTimeMS: COPY_BUDGET_MS });
    }
  }

  /** Copies what is pending for `uid` (a deleted user's document included): the write path's recovery. */
  async finish(uid: string): Promise<void> {
    const user = await this.users.findOne({ _id: uid }, { projection: PENDING_STATE, maxTimeMS: COPY_BUDGET_MS });
    if (user) await this.copy(user);
  }

  /**
   * One pass over the users with tokens pending (or, `deletedUsers`, deleted) since before `before`,
   * in uid order from `after` (a range of the shard key: deploy/mongodb/). Resolves with where the
   * next pass starts (undefined: from the first uid again), how many tokens it copied, how many
   * users it finished, and the first copy that failed, if any (the walk goes on past it).
   */
  async sweep(
    before: Date,
    after: string | undefined,
    what: Swept = 'pending',
  ): Promise<{ next: string | undefined; copied: number; finished: number; failure?: unknown }> {
    const { since, index } = SWEPT[what];
    let cursor = after;
    let copied = 0;
    let finished = 0;
    let failure: unknown;
    for (let page = 0; page < SWEEP_PAGES; page++) {
      const users = await this.users
        .find(
          { ...(cursor !== undefined && { _id: { $gt: cursor } }), [since]: { $lte: before } },
          { projection: PENDING_STATE, sort: { _id: 1 }, limit: SWEEP_PAGE, hint: index, maxTimeMS: COPY_BUDGET_MS },
        )
        .toArray();
      for (const user of users) {
        // One user whose copy fails must not hold up the others, which come after it in every pass.
        await this.copy(user).then(
          () => {
            copied += user.pending?.length ?? 0;
            finished++;
          },
          (error: unknown) => (failure ??= error),
        );
      }
      if (users.length < SWEEP_PAGE) return { next: undefined, copied, finished, failure };
      cursor = users.at(-1)!._id;
    }
    return { next: cursor, copied, finished, failure };
  }
}

/** What a copy needs of a user's document: what is pending, and whether (and which) user was deleted. */
export const PENDING_STATE = { pending: 1, deletedAt: 1, generation: 1 } as const;
export type PendingState = Pick<UserDoc, '_id' | 'pending' | 'deletedAt' | 'generation'>;

/** Every failure of an unordered insert was a token already archived. */
function onlyDuplicates(error: unknown): boolean {
  const writeErrors = (error as { writeErrors?: unknown }).writeErrors;
  const list = Array.isArray(writeErrors) ? writeErrors : writeErrors ? [writeErrors] : [];
  const code = (error as { code?: unknown }).code;
  return list.length > 0 ? list.every((e: { code?: unknown }) => e.code === DUPLICATE_KEY) : code === DUPLICATE_KEY;
}

/** Runs the sweep at start-up and then every `intervalMs`, for tokens pending longer than `graceMs`. */
export function sweepPendingArchive(pending: PendingArchive, intervalMs: number, graceMs: number, log: Logger): { stop(): Promise<void> } {
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();
  let stopped = false;
  const cursors: Record<Swept, string | undefined> = { pending: undefined, deletedUsers: undefined };
  let failing = false;
  const pass = async () => {
    const before = new Date(Date.now() - graceMs);
    let failure: unknown;
    // Each walk on its own: one that fails (say, its index dropped by hand) must not stop the other.
    for (const what of Object.keys(cursors) as Swept[]) {
      try {
        const walked = await pending.sweep(before, cursors[what], what);
        cursors[what] = walked.next;
        failure ??= walked.failure;
        if (walked.finished > 0) {
          log.info({ walk: what, users: walked.finished, copied: walked.copied }, 'finished what interrupted writes left: tokens archived, deleted users removed');
        }
      } catch (error) {
        failure ??= error;
      }
    }
    // Once per outage: the next pass tries again.
    if (failure !== undefined && !failing) log.warn({ err: failure }, 'pending archive sweep failed; the next one tries again');
    failing = failure !== undefined;
  };
  const schedule = (delayMs: number) => {
    if (stopped) return;
    timer = setTimeout(() => {
      running = pass().finally(() => schedule(intervalMs));
    }, delayMs);
    timer.unref();
  };
  schedule(0);
  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}
