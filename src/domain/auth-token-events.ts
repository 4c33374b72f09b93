// What WatchAuthTokenEvents streams: every token issued and revoked, in commit order, each with its
// position in that order. The positions come from the database (storage/token-event-stream.ts) and
// are the same on every replica, so a gateway may resume on any replica with the last one it got.
import { badRequest, DomainError, ErrorReason } from './errors';
import type { ArchiveReason } from './model';
import { RequestValidator } from './validation';

/**
 * Opaque to callers; ordered by plain string comparison (MongoDB resume tokens are hex strings
 * that sort in commit order), and "after p" means every event whose position is greater.
 */
export type EventPosition = string;

export type AuthTokenEvent =
  | { type: 'ISSUED'; position: EventPosition; uid: string; tokenId: string; deviceId: string; time: Date }
  | { type: 'REVOKED'; position: EventPosition; uid: string; tokenId: string; deviceId: string; time: Date; reason: ArchiveReason }
  /** Nothing to report: every event up to `position` has been sent. */
  | { type: 'BOOKMARK'; position: EventPosition };

/** What one read of the event stream brings: its events, and how far it has read (at least the last event). */
export interface EventBatch {
  events: readonly AuthTokenEvent[];
  position: EventPosition;
}

export interface TokenEventSource {
  /**
   * Events committed after `after` (from now on without it), batch by batch, a batch at least
   * every heartbeat even when nothing changed. Ends only by `signal`; fails with
   * resumeTokenExpired() if the events after `after` are no longer kept, a bad request if `after`
   * is not a position at all, or unavailable.
   */
  follow(after: EventPosition | undefined, signal: AbortSignal): AsyncIterable<EventBatch>;
}

export const WATCH_MAX_UIDS = 1_000;
/** A position as the database writes them: hex, starting with the commit time's type byte. */
const POSITION_SYNTAX = /^82[0-9A-F]{16,1022}$/;

export interface WatchRequest {
  /** Empty: every user. */
  uids: ReadonlySet<string>;
  after: EventPosition | undefined;
}

export function watchRequest(request: { uids: readonly string[]; resumeToken: string }): WatchRequest {
  const check = new RequestValidator();
  if (request.uids.length > WATCH_MAX_UIDS) check.fail('uids', `At most ${WATCH_MAX_UIDS} uids.`);
  const uids = new Set(request.uids.slice(0, WATCH_MAX_UIDS).map((uid, i) => check.uid(`uids[${i}]`, uid)));
  const after = request.resumeToken === '' ? undefined : request.resumeToken;
  if (after !== undefined && !POSITION_SYNTAX.test(after)) check.fail('resume_token', badResumeToken);
  check.check();
  return { uids, after };
}

const badResumeToken = 'Not a resume_token of this service: send one exactly as an AuthTokenEvent carried it.';

export function notAResumeToken(): DomainError {
  return badRequest([{ field: 'resume_token', description: badResumeToken }]);
}

export function resumeTokenExpired(): DomainError {
  return new DomainError(
    ErrorReason.RESUME_TOKEN_EXPIRED,
    'The events after this resume_token are no longer kept. Revalidate every session, then watch again without a resume_token.',
  );
}

export function wanted(event: AuthTokenEvent, uids: ReadonlySet<string>): boolean {
  return event.type === 'BOOKMARK' || uids.size === 0 || uids.has(event.uid);
}
