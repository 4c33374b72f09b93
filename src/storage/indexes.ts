// Indexes, created (or brought up to date) at start-up. Every query names a uid or a range of uids
// (the shard key: deploy/mongodb/), but for the expiry sweep's, which asks each shard's next_expiry
// index for the users due; the recovery sweep walks the users in uid order through partial indexes
// that hold only those with tokens pending, and the deleted users not yet removed.
import type { Db } from 'mongodb';
import { ARCHIVED_TOKENS, USERS } from './documents';

const RETENTION_INDEX = 'archive_retention';
const DAY_SECONDS = 24 * 60 * 60;
/** Users with a token that expires, by when the first one does (sparse): the expiry sweep's. */
export const EXPIRY_INDEX = 'next_expiry';
/** Users with tokens pending their archive copy, by uid: the recovery sweep's walk (pending-archive.ts). */
export const PENDING_INDEX = 'pending_archive_by_uid';
/** Deleted users whose document is still there, by uid: the recovery sweep's other walk. */
export const DELETED_USERS_INDEX = 'deleted_users_by_uid';

export async function ensureIndexes(db: Db, archiveRetentionDays: number): Promise<void> {
  const users = db.collection(USERS);
  await users.createIndex({ nextExpiry: 1 }, { name: EXPIRY_INDEX, sparse: true });
  await users.createIndex(
    { _id: 1, 'pending.archiveTime': 1 },
    { name: PENDING_INDEX, partialFilterExpression: { 'pending.archiveTime': { $exists: true } } },
  );
  await users.createIndex({ _id: 1, deletedAt: 1 }, { name: DELETED_USERS_INDEX, partialFilterExpression: { deletedAt: { $exists: true } } });
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
