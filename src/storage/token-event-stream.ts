// The auth token events as MongoDB records them: one change stream on the database, for the two
// writes that issue and revoke tokens. A revoked token is an insert into archived_tokens (every
// reason archives: the copy of the user's pending tokens, keyed by token id, so it happens once);
// an issued one is the `lastIssued` field its issuing write sets on the user document. The stream's resume tokens are
// the events' positions: the same on every replica, and ordered (their hex sorts in commit order).
import { type ChangeStream, type Db, MongoServerError } from 'mongodb';
import {
  type AuthTokenEvent,
  type EventBatch,
  type EventPosition,
  notAResumeToken,
  resumeTokenExpired,
  type TokenEventSource,
} from '../domain/auth-token-events';
import { serviceUnavailable } from '../domain/errors';
import { ARCHIVED_TOKENS, type ArchivedTokenDoc, type IssuedToken, parseIssuedToken, USERS } from './documents';
import { isDatabaseUnavailable } from './driver-errors';

/** The server answers every getMore within this long, events or not: each answer moves the position on. */
const HEARTBEAT_MS = 1_000;
/** Events per batch: what one answer can make this process hold (each is a few hundred bytes). */
const BATCH_SIZE = 1_000;
/** ChangeStreamFatalError (the resume token is not in the oplog), ChangeStreamHistoryLost. */
const HISTORY_GONE = new Set([280, 286]);

const PIPELINE = [
  {
    $match: {
      $or: [
        { 'ns.coll': ARCHIVED_TOKENS, operationType: 'insert' },
        // MongoDB may record a pipeline update as a whole new document (a replace): every write
        // that does not issue removes lastIssued, so a replace that holds one issued it.
        { 'ns.coll': USERS, operationType: { $in: ['insert', 'replace'] }, 'fullDocument.lastIssued': { $exists: true } },
        { 'ns.coll': USERS, operationType: 'update', 'updateDescription.updatedFields.lastIssued': { $exists: true } },
      ],
    },
  },
  // Only what an event says: never a token hash, app_info or the user's other tokens.
  {
    $project: {
      operationType: 1,
      'ns.coll': 1,
      documentKey: 1,
      'fullDocument.uid': 1,
      'fullDocument.deviceId': 1,
      'fullDocument.archiveTime': 1,
      'fullDocument.reason': 1,
      'fullDocument.lastIssued': 1,
      'updateDescription.updatedFields.lastIssued': 1,
    },
  },
];

/** A change as PIPELINE leaves it. */
interface Change {
  _id: { _data: string };
  ns: { coll: string };
  documentKey: { _id: string };
  fullDocument?: Partial<ArchivedTokenDoc> & { lastIssued?: string | IssuedToken };
  updateDescription?: { updatedFields?: { lastIssued?: string | IssuedToken } };
}

export function mongoTokenEventSource(db: Db): TokenEventSource {
  return { follow: (after, signal) => follow(db, after, signal) };
}

async function* follow(db: Db, after: EventPosition | undefined, signal: AbortSignal): AsyncGenerator<EventBatch> {
  const stream: ChangeStream = db.watch(PIPELINE, {
    maxAwaitTimeMS: HEARTBEAT_MS,
    batchSize: BATCH_SIZE,
    ...(after !== undefined && { startAfter: { _data: after } }),
  });
  const close = () => void stream.close().catch(() => undefined);
  signal.addEventListener('abort', close, { once: true });
  let opened = false;
  try {
    while (!signal.aborted) {
      const change = (await stream.tryNext()) as unknown as Change | null;
      opened = true;
      if (change) yield { events: [toEvent(change)], position: change._id._data };
      // Dropped or renamed, the stream is over (and would answer at once, forever): start over.
      else if (stream.closed) throw new Error('the auth token event stream was invalidated (database dropped or renamed)');
      else yield { events: [], position: (stream.resumeToken as { _data: string })._data };
    }
  } catch (error) {
    if (signal.aborted) return;
    if (error instanceof MongoServerError && after !== undefined && !opened) {
      throw HISTORY_GONE.has(Number(error.code)) ? resumeTokenExpired() : notAResumeToken();
    }
    if (error instanceof MongoServerError && HISTORY_GONE.has(Number(error.code))) throw resumeTokenExpired();
    if (isDatabaseUnavailable(error)) throw serviceUnavailable(error);
    throw error;
  } finally {
    signal.removeEventListener('abort', close);
    close();
  }
}

function toEvent(change: Change): AuthTokenEvent {
  const position = change._id._data;
  const id = change.documentKey._id;
  if (change.ns.coll === ARCHIVED_TOKENS) {
    const archived = change.fullDocument!;
    return {
      type: 'REVOKED',
      position,
      uid: archived.uid!,
      tokenId: id,
      deviceId: archived.deviceId ?? '',
      time: archived.archiveTime!,
      reason: archived.reason!,
    };
  }
  const issued = parseIssuedToken(change.fullDocument?.lastIssued ?? change.updateDescription!.updatedFields!.lastIssued!);
  return { type: 'ISSUED', position, uid: id, tokenId: issued.id, deviceId: issued.deviceId, time: issued.time };
}
