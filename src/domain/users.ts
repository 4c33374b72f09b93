// Use cases of UserService.
import { type Clock, NO_DEVICE, newToken, publicView } from './auth-tokens';
import { latestExpiry } from './expiry';
import { uidNotFound } from './errors';
import type { AuthToken, JsonObject, User } from './model';
import { IGNORE_ACTIVITY, type TokenActivity } from './token-activity';
import type { TokenStore } from './token-store';
import { RequestValidator } from './validation';
import type { Deadline } from './deadline';

/** Every use case takes the deadline of the call it serves (deadline.ts), for storage. */
export class Users {
  constructor(
    private readonly store: TokenStore,
    private readonly events: TokenActivity = IGNORE_ACTIVITY,
    /** MAX_TOKEN_LIFETIME_SECONDS in ms, for the first token (expiry.ts); undefined: off. */
    private readonly maxLifetimeMs?: number,
    private readonly clock: Clock = () => new Date(),
  ) {}

  /** With `withAuthToken`, the user and its first token are stored in one write. */
  async create(input: {
    uid: string;
    name: string;
    metadata: JsonObject | undefined;
    withAuthToken: boolean;
  }, deadline: Deadline): Promise<{ user: User; issued?: { authToken: AuthToken; secret: string } }> {
    const v = new RequestValidator();
    const uid = v.uid('uid', input.uid);
    const name = v.name('name', input.name);
    const metadata = v.jsonObject('metadata', input.metadata);
    v.check();
    const now = this.clock();
    const user: User = { uid, name, metadata, createTime: now, updateTime: now };
    const first = input.withAuthToken ? newToken(uid, NO_DEVICE, now, latestExpiry(now, this.maxLifetimeMs)) : undefined;
    await this.store.createUser(user, first?.stored, deadline);
    if (first) this.events.issued(1);
    return { user, issued: first && { authToken: publicView(first.stored), secret: first.secret } };
  }

  async get(input: { uid: string }, deadline: Deadline): Promise<User> {
    const uid = this.validUid(input.uid);
    const user = await this.store.getUser(uid, deadline);
    if (!user) throw uidNotFound(uid);
    return user;
  }

  /** Returns how many active tokens were archived as USER_DELETED. */
  async delete(input: { uid: string }, deadline: Deadline): Promise<number> {
    const count = await this.store.deleteUser(this.validUid(input.uid), this.clock(), deadline);
    this.events.archived('USER_DELETED', count);
    return count;
  }

  private validUid(value: string): string {
    const v = new RequestValidator();
    const uid = v.uid('uid', value);
    v.check();
    return uid;
  }
}
