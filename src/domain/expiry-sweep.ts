// Archives expired tokens as EXPIRED soon after their expire_time; validation refuses them from
// that instant on already (expiry.ts). Every replica sweeps on its own: each user's expiry is one
// atomic write, so concurrent sweeps of one user stay exact, and a pass only visits users with a
// token due, earliest first.
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
    let failure: unknown;
    for (const uid of await this.store.usersWithExpiredTokens(now, USERS_PER_SWEEP, deadline)) {
      // One user that fails (its document cannot be written) must not hold up the others, which
      // come after it in every pass.
      archived += await this.store.expireTokens(uid, now, deadline).catch((error: unknown) => {
        failure ??= error;
        return 0;
      });
    }
    this.events.archived('EXPIRED', archived);
    if (failure !== undefined) throw failure;
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
