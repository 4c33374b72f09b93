// ListArchivedAuthTokens on MongoDB: a page of archived_tokens, most recently archived first,
// with the user's pending tokens merged in. Those are archived already (token-writes.ts), though
// not yet copied (pending-archive.ts): a token the copy has reached is in both, and listed once.
import type { Collection, Filter } from 'mongodb';
import type { Deadline } from '../domain/deadline';
import type { PageCursor } from '../domain/model';
import { newestFirst } from '../domain/rules';
import type { ArchivedUsers } from '../domain/token-store';
import { type ArchivedTokenDoc, archivedDocOf, toArchivedAuthToken, type UserDoc } from './documents';
import { timeLimit } from './time-limits';

export interface ArchivePage {
  uid: string;
  /** Strictly after this position (archive time, token id). */
  after: PageCursor | undefined;
  limit: number;
  whose: ArchivedUsers;
}

export async function listArchivedTokens(
  users: Collection<UserDoc>,
  archive: Collection<ArchivedTokenDoc>,
  { uid, after, limit, whose }: ArchivePage,
  deadline: Deadline,
) {
  // Read before the archive: a token copied in between is then found in the archive.
  const user = await users.findOne({ _id: uid }, { projection: { generation: 1, deletedAt: 1, pending: 1 }, ...timeLimit(deadline) });
  const current = whose === 'current' && user && user.deletedAt === undefined ? user : undefined;
  // `null` also matches archived tokens of users from before generations existed.
  const generation = current ? (current.generation ?? null) : undefined;
  const ofUser: Filter<ArchivedTokenDoc> = current ? { generation } : {};
  const filter: Filter<ArchivedTokenDoc> = after
    ? { uid, ...ofUser, $or: [{ archiveTime: { $lt: after.time } }, { archiveTime: after.time, _id: { $lt: after.id } }] }
    : { uid, ...ofUser };
  const docs = await archive.find(filter, timeLimit(deadline)).sort({ archiveTime: -1, _id: -1 }).limit(limit).toArray();
  const copied = new Set(docs.map((d) => d._id));
  const pending = (user?.pending ?? [])
    .map(archivedDocOf)
    .filter((p) => !copied.has(p._id) && (!current || (p.generation ?? null) === generation) && (!after || newestFirst(after, positionOf(p)) < 0));
  return [...docs, ...pending]
    .sort((a, b) => newestFirst(positionOf(a), positionOf(b)))
    .slice(0, limit)
    .map(toArchivedAuthToken);
}

/** An archived token's place in the archive's order (the page cursor's terms). */
function positionOf(doc: ArchivedTokenDoc): PageCursor {
  return { time: doc.archiveTime, id: doc._id };
}
