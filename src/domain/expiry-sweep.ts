// Archives expired tokens as EXPIRED soon after their expire_time; validation refuses them from
// that instant on already (expiry.ts). Every replica sweeps on its own: each user's expiry is one
// atomic write, so concurrent sweeps of one user stay exact, and a pass only visits users with a
// token due, in uid order, going on from where the last pass stopped.
import { callDeadline } from './deadline';
import type { Clock } from './auth-tokens';
import type { TokenActivity } from './token-activity';
import type { TokenStore } from './token-store';

/** Users one pass visits at most; the rest wait for the next pass. */
export const USERS_PER_SWEEP = 100;
/** The database time one pass may take. */
const SWEEP_BUDGET_MS = 10_000;

export class ExpirySweep {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> = Promise.resolve();
  private stopped = false;
  /** The last uid the last pass visited; undefined: start from the first. */
  private cursor: string | undefined;

  constructor(
    private readonly store: TokenStore,
    private readonly events: TokenActivity,
    private readonly clock: Clock = () => new Date(),
  ) {}

  /** One pass; resolves with how many tokens it archived. */
  async sweep(): Promise<number> {
    const now = this.clock();
    const deadline = callDeadline(Date.now() + SWEEP_BUDGET_MS);
    let archived = 0;
    let visited = 0;
    // From the cursor to the last uid, then (with room left) from the first uid again.
    const rounds = this.cursor === undefined ? 1 : 2;
    for (let round = 0; round < rounds && visited < USERS_PER_SWEEP; round++) {
      const uids = await this.store.usersWithExpiredTokens(now, this.cursor, USERS_PER_SWEEP - visited, deadline);
      for (const uid of uids) archived += await this.store.expireTokens(uid, now, deadline);
      visited += uids.length;
      this.cursor = visited < USERS_PER_SWEEP ? undefined : uids.at(-1);
      if (this.cursor !== undefined) break;
    }
    this.events.archived('EXPIRED', archived);
    return archived;
  }

  /** A pass every `intervalMs`, never two at once; a failed pass (database down) is reported and the next one tries again. */
  start(intervalMs: number, failed: (error: unknown) => void): void {
    const schedule = () => {
      if (this.stopped) return;
      this.timer = setTimeout(() => {
        this.running = this.sweep().catch(failed).finally(schedule);
      }, intervalMs);
      this.timer.unref();
    };
    schedule();
  }

  /** No further pass starts; resolves once the one under way (if any) has ended. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }
}
