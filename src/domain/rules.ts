// Every input and capacity rule of the service, defined once.
import type { PageCursor } from './model';

export const UID_MAX_CHARS = 100;
/** A uid as the service keeps it: CometChat lower-cases the uid it was given. */
export const UID_PATTERN = new RegExp(`^[a-z0-9_-]{1,${UID_MAX_CHARS}}$`);
/**
 * A uid as a caller may send it, checked before lower-casing: lower-casing maps some non-ASCII
 * letters into a-z (KELVIN SIGN U+212A becomes "k"), which would name another user.
 */
export const UID_INPUT_PATTERN = new RegExp(`^[A-Za-z0-9_-]{1,${UID_MAX_CHARS}}$`);
/** What a caller is told when a uid breaks the rule above. */
export const UID_RULE = `Must be 1 to ${UID_MAX_CHARS} characters of a-z, 0-9, "_" and "-".`;
export const NAME_MAX_CHARS = 100;
/** platform, device_id, user_agent. */
export const SHORT_TEXT_MAX_CHARS = 255;
/** metadata and app_info, measured as UTF-8 JSON. */
export const JSON_OBJECT_MAX_BYTES = 5 * 1024;

export const DEFAULT_MAX_TOKENS_PER_USER = 100;
export const DEFAULT_ARCHIVE_RETENTION_DAYS = 90;

export const PAGE_SIZE_MAX = 100;
/** Secrets one RevokeAuthTokens call may name (as GitHub's revocation API). */
export const REVOKE_MAX_TOKENS = 1_000;

/**
 * The one order of a user's tokens: by create time, then token id. Storage keeps them oldest
 * first, so that `$slice` keeps the newest; lists show them newest first.
 */
export function oldestFirst(a: PageCursor, b: PageCursor): number {
  return a.time.getTime() - b.time.getTime() || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

export function newestFirst(a: PageCursor, b: PageCursor): number {
  return oldestFirst(b, a);
}

/** ValidateAuthToken writes last-use (and device information) at most this often per token. */
export const LAST_USE_WRITE_INTERVAL_MS = 60_000;
