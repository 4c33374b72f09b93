// The raw-driver baseline's operations (bench/raw-driver.ts drives them): the same MongoDB
// operations each workload makes the service issue.
//
// What "the same operations" means, per workload (kept in step with src/storage/mongo-token-store.ts):
//   validate  findOne({_id, tokens: {$elemMatch: {hash}}}) projecting the user fields and the one
//             token; then, if the token was last used a minute ago or more, the conditional
//             updateOne that records last use (warm-up passes over every token first, as the
//             service run does, so the measured run is the same steady state).
//   create    (user at the cap) the one atomic update that issues and moves the evicted token to
//             the user's pending list (findOneAndUpdate with src/storage/token-writes.ts's pipeline,
//             the per-uid bucket included), insertMany of the pending token into archived_tokens,
//             then updateOne $pull of it from pending.
//   create-transaction  the design before it, kept as a baseline: the below-cap conditional
//             updateOne, which matches nothing; then a transaction (snapshot read concern,
//             majority writes): findOne of the tokens, updateOne $push/$each/$sort/$slice,
//             insertMany of the evicted token into archived_tokens.
//   list      findOne({_id}) projecting the public fields of every token.
import { type Collection, type MongoClient, ObjectId } from 'mongodb';
import { bucketHasToken, issuing } from '../src/storage/token-writes';
import { issueToken } from '../src/domain/token-format';
import { ArchiveReason } from '../src/domain/model';
import {
  ARCHIVED_TOKENS,
  type ArchivedTokenDoc,
  PUBLIC_TOKEN_FIELDS,
  TOKEN_ORDER,
  USER_FIELDS,
  USERS,
  type UserDoc,
  storedOldestFirst,
  toTokenDoc,
  type TokenDoc,
  archivedDocOf,
  EXISTING_USER,
  issuedTokenText,
} from '../src/storage/documents';
import { LAST_USE_WRITE_INTERVAL_MS } from '../src/domain/rules';

export type Op = 'validate' | 'create' | 'create-transaction' | 'list';

// The service gives every operation the call's remaining time as maxTimeMS (ghz's default call
// timeout is 20 s); the same budget here.
const MAX_TIME_MS = 20_000;
const LAST_USE_WRITE_BUDGET_MS = 250;

export interface Data {
  validate: { uid: string; hash: string }[];
  create: string[];
  list: string[];
}

export class Ops {
  private readonly users: Collection<UserDoc>;
  private readonly archive: Collection<ArchivedTokenDoc>;
  private readonly validateTokens: { uid: string; hash: Buffer }[];
  private next = { validate: 0, create: 0, list: 0 };
  private readonly createLimit: { perSecond: number; burst: number } | undefined;

  constructor(
    private readonly client: MongoClient,
    dbName: string,
    private readonly data: Data,
    private readonly max: number,
    uidLimitPerMinute: number,
  ) {
    this.createLimit = uidLimitPerMinute > 0 ? { perSecond: uidLimitPerMinute / 60, burst: uidLimitPerMinute } : undefined;
    const db = client.db(dbName);
    this.users = db.collection<UserDoc>(USERS);
    this.archive = db.collection<ArchivedTokenDoc>(ARCHIVED_TOKENS);
    this.validateTokens = data.validate.map((t) => ({ uid: t.uid, hash: Buffer.from(t.hash, 'base64') }));
  }

  get validateCount(): number {
    return this.validateTokens.length;
  }

  /** Round robin over each workload's data, as ghz does over its data array. */
  run(op: Op): Promise<void> {
    switch (op) {
      case 'validate': {
        const t = this.validateTokens[this.next.validate++ % this.validateTokens.length]!;
        return this.validate(t.uid, t.hash);
      }
      case 'create':
        return this.create(this.data.create[this.next.create++ % this.data.create.length]!);
      case 'create-transaction':
        return this.createInTransaction(this.data.create[this.next.create++ % this.data.create.length]!);
      case 'list':
        return this.list(this.data.list[this.next.list++ % this.data.list.length]!);
    }
  }

  async validate(uid: string, hash: Buffer): Promise<void> {
    const match = { hash };
    const user = await this.users.findOne(
      { _id: uid, tokens: { $elemMatch: match } },
      { projection: { ...USER_FIELDS, tokens: { $elemMatch: match } }, maxTimeMS: MAX_TIME_MS },
    );
    const token = user?.tokens[0];
    if (!token) throw new Error(`validate: token of ${uid} not found`);
    const now = new Date();
    const lastUsed = token.lastUsedTime?.getTime() ?? -Infinity;
    if (now.getTime() - lastUsed >= LAST_USE_WRITE_INTERVAL_MS) {
      const usedAfter = new Date(now.getTime() - LAST_USE_WRITE_INTERVAL_MS);
      await this.users.updateOne(
        {
          _id: uid,
          tokens: { $elemMatch: { id: token.id, $or: [{ lastUsedTime: null }, { lastUsedTime: { $lte: usedAfter } }] } },
        },
        { $set: { 'tokens.$.lastUsedTime': now } },
        // The service's best-effort budget for this write.
        { maxTimeMS: LAST_USE_WRITE_BUDGET_MS },
      );
    }
  }

  async create(uid: string): Promise<void> {
    const now = new Date();
    const { tokenId, tokenHash } = issueToken(uid);
    const token = toTokenDoc(newStored(uid, tokenId, tokenHash, now));
    const write = new ObjectId().toHexString();
    const createLimit = this.createLimit;
    const after = await this.users.findOneAndUpdate(
      { _id: uid, ...EXISTING_USER, ...(createLimit && bucketHasToken(now, createLimit)) },
      issuing({ token, max: this.max, replaceDeviceId: undefined, expiresAt: undefined, createLimit, now, write }),
      { projection: { pending: 1, tokens: { $slice: -1 } }, returnDocument: 'after', maxTimeMS: MAX_TIME_MS },
    );
    if (!after) throw new Error(`create: user ${uid} not found`);
    const pending = after.pending ?? [];
    if (pending.length === 0) return;
    await this.archive.insertMany(pending.map(archivedDocOf), { ordered: false, maxTimeMS: MAX_TIME_MS });
    await this.users.updateOne({ _id: uid }, { $pull: { pending: { _id: { $in: pending.map((p) => p._id) } } } }, { maxTimeMS: MAX_TIME_MS });
  }

  async createInTransaction(uid: string): Promise<void> {
    const max = this.max;
    const now = new Date();
    const { tokenId, tokenHash } = issueToken(uid);
    const stored = newStored(uid, tokenId, tokenHash, now);
    const belowCap = await this.users.updateOne(
      {
        _id: uid,
        [`tokens.${max - 1}`]: { $exists: false },
        tokens: { $not: { $elemMatch: { createTime: { $gte: now } } } },
      },
      pushed(toTokenDoc(stored), max),
      { maxTimeMS: MAX_TIME_MS },
    );
    if (belowCap.matchedCount === 1) return;
    await this.client.withSession((session) =>
      session.withTransaction(
        async () => {
          const user = await this.users.findOne({ _id: uid }, { session, projection: { tokens: 1, generation: 1 }, maxTimeMS: MAX_TIME_MS });
          if (!user) throw new Error(`create: user ${uid} not found`);
          const kept = user.tokens.sort(storedOldestFirst);
          const evicted = kept.slice(0, Math.max(0, kept.length + 1 - max));
          const newest = kept.at(-1)?.createTime.getTime() ?? -Infinity;
          const createTime = new Date(Math.max(now.getTime(), newest + 1));
          const doc = toTokenDoc({ ...stored, createTime, updateTime: createTime });
          await this.users.updateOne(
            { _id: uid },
            pushed(doc, max),
            { session, maxTimeMS: MAX_TIME_MS },
          );
          if (evicted.length > 0) {
            await this.archive.insertMany(
              evicted.map((t) => toArchivedDoc(user, t, ArchiveReason.EVICTED, now)),
              { session, maxTimeMS: MAX_TIME_MS },
            );
          }
        },
        { readConcern: { level: 'snapshot' }, writeConcern: { w: 'majority' }, maxCommitTimeMS: MAX_TIME_MS },
      ),
    );
  }

  async list(uid: string): Promise<void> {
    const user = await this.users.findOne({ _id: uid }, { projection: { tokens: PUBLIC_TOKEN_FIELDS }, maxTimeMS: MAX_TIME_MS });
    if (!user) throw new Error(`list: user ${uid} not found`);
  }
}

/** The transaction design's issuing update: the capped push, and the token named for its ISSUED event. */
function pushed(doc: TokenDoc, max: number) {
  return { $push: { tokens: { $each: [doc], $sort: TOKEN_ORDER, $slice: -max } }, $set: { lastIssued: issuedTokenText(doc) } };
}

/** The transaction design's archive record of `token`, taken from `owner`. */
function toArchivedDoc(owner: Pick<UserDoc, '_id' | 'generation'>, token: TokenDoc, reason: ArchiveReason, now: Date): ArchivedTokenDoc {
  const { id, hash: _hash, ...fields } = token;
  return { _id: id, uid: owner._id, ...(owner.generation !== undefined && { generation: owner.generation }), ...fields, archiveTime: now, reason };
}

/** The token ghz's create requests ask for. */
function newStored(uid: string, tokenId: string, tokenHash: Buffer, now: Date) {
  return {
    tokenId,
    tokenHash,
    uid,
    createTime: now,
    updateTime: now,
    lastUsedTime: undefined,
    platform: 'ios',
    deviceId: '',
    userAgent: 'ChatApp/2.3.1 (iOS 17.4)',
    appInfo: undefined,
    expireTime: undefined,
  };
}
