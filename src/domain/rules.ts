// Every input and capacity rule of the service, defined once.

/** A uid as the service keeps it: CometChat lower-cases the uid it was given. */
export const UID_PATTERN = /^[a-z0-9_-]{1,100}$/;
/**
 * A uid as a caller may send it, checked before lower-casing: lower-casing maps some non-ASCII
 * letters into a-z (KELVIN SIGN U+212A becomes "k"), which would name another user.
 */
export const UID_INPUT_PATTERN = /^[A-Za-z0-9_-]{1,100}$/;
export const NAME_MAX_CHARS = 100;
/** platform, device_id, user_agent. */
export const SHORT_TEXT_MAX_CHARS = 255;
/** metadata and app_info, measured as UTF-8 JSON. */
export const JSON_OBJECT_MAX_BYTES = 5 * 1024;

export const DEFAULT_MAX_TOKENS_PER_USER = 100;
export const DEFAULT_ARCHIVE_RETENTION_DAYS = 90;

export const PAGE_SIZE_MAX = 100;

/** ValidateAuthToken writes last-use (and device information) at most this often per token. */
export const LAST_USE_WRITE_INTERVAL_MS = 60_000;
