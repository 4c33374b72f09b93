// Indexes, created (or brought up to date) at start-up. Every query names a uid or a range of uids
// (the shard key: deploy/mongodb/); the two sweeps walk the users in uid order through partial
// indexes that hold only the users they look for.
import type { Db } from 'mongodb';
import { ARCHIVED_TOKENS, USERS } from './documents';

const RETENTION_INDEX = 'archive_retention';
const DAY_SECONDS = 24 * 60 * 60;
/** Users with a token that expires, by uid: the expiry sweep's walk. */
export const EXPIRY_INDEX = 'next_expiry_by_uid';
/** Users with tokens pending their archive copy, by uid: the recovery sweep's walk (pending-archive.ts). */
export const PENDING_INDEX = 'pending_archive_by_uid';
/** Replaced by EXPIRY_INDEX: by time alone, the sweep's query could not name a uid range. */
const OLD_EXPIRY_INDEX = 'next_expiry';

export async function ensureIndexes(db: Db, archiveRetentionDays: number): Promise<void> {
  const users = db.collection(USERS);
  await users.createIndex(
    { _id: 1, nextExpiry: 1 },
    { name: EXPIRY_INDEX, partialFilterExpression: { nextExpiry: { $exists: true } } },
  );
  await users.createIndex(
    { _id: 1, 'pending.archiveTime': 1 },
    { name: PENDING_INDEX, partialFilterExpression: { 'pending.archiveTime': { $exists: true } } },
  );
  if ((await users.listIndexes().toArray()).some((i) => i.name === OLD_EXPIRY_INDEX)) await users.dropIndex(OLD_EXPIRY_INDEX);
  const archive = db.collection(ARCHIVED_TOKENS);
  await archive.createIndex({ uid: 1, archiveTime: -1, _id: -1 }, { name: 'uid_archive_time' });

  const expireAfterSeconds = archiveRetentionDays * DAY_SECONDS;
  const existing = (await archive.listIndexes().toArray()).find((i) => i.name === RETENTION_INDEX);
  if (!existing) {
    await archive.createIndex({ archiveTime: 1 }, { name: RETENTION_INDEX, expireAfterSeconds });
  } else if (existing.expireAfterSeconds !== expireAfterSeconds) {
    // A changed ARCHIVE_RETENTION_DAYS: createIndex would fail on the differing option.
    await db.command({ collMod: ARCHIVED_TOKENS, index: { name: RETENTION_INDEX, expireAfterSeconds } });
  }
}
