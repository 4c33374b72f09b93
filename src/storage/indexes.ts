// Indexes, created (or brought up to date) at start-up. Users need one beyond _id, for the expiry
// sweep; every other lookup names the uid, which is also the natural shard key.
import type { Db } from 'mongodb';
import { ARCHIVED_TOKENS, USERS } from './documents';

const RETENTION_INDEX = 'archive_retention';
const DAY_SECONDS = 24 * 60 * 60;

export async function ensureIndexes(db: Db, archiveRetentionDays: number): Promise<void> {
  // Sparse: only users with a token that expires are in it.
  await db.collection(USERS).createIndex({ nextExpiry: 1 }, { name: 'next_expiry', sparse: true });
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
