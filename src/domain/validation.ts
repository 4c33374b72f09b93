// Field-by-field request validation that reports every bad field at once (ERR_BAD_REQUEST).
import { badRequest, type FieldViolation } from './errors';
import type { JsonObject, PageCursor, TokenRef } from './model';
import { decodePageToken, type Listing } from './page-token';
import {
  JSON_OBJECT_MAX_BYTES,
  NAME_MAX_CHARS,
  PAGE_SIZE_MAX,
  SHORT_TEXT_MAX_CHARS,
  UID_INPUT_PATTERN,
  UID_RULE,
} from './rules';
import { parseToken, parseTokenRef } from './token-format';

export function normalizeUid(uid: string): string {
  return uid.toLowerCase();
}

export class RequestValidator {
  private readonly violations: FieldViolation[] = [];

  /** Checks CometChat's uid syntax (ASCII letters of either case), then lower-cases. */
  uid(field: string, value: string): string {
    if (value === '') this.fail(field, 'Required.');
    else if (!UID_INPUT_PATTERN.test(value)) {
      this.fail(field, UID_RULE);
    }
    return normalizeUid(value);
  }

  name(field: string, value: string): string {
    const chars = [...value].length;
    if (value.trim() === '') this.fail(field, 'Required.');
    else if (chars > NAME_MAX_CHARS) this.fail(field, `At most ${NAME_MAX_CHARS} characters.`);
    return value;
  }

  /** platform, device_id, user_agent: optional, at most 255 characters. */
  shortText(field: string, value: string): string {
    if ([...value].length > SHORT_TEXT_MAX_CHARS) {
      this.fail(field, `At most ${SHORT_TEXT_MAX_CHARS} characters.`);
    }
    return value;
  }

  /** metadata, app_info: optional JSON object, at most 5 KB serialized. */
  jsonObject(field: string, value: JsonObject | undefined): JsonObject | undefined {
    if (value !== undefined && Buffer.byteLength(JSON.stringify(value), 'utf8') > JSON_OBJECT_MAX_BYTES) {
      this.fail(field, `At most ${JSON_OBJECT_MAX_BYTES} bytes as JSON.`);
    }
    return value;
  }

  /** 0 means the maximum; negative is an error; above the maximum is lowered to it (AIP-158). */
  pageSize(field: string, value: number): number {
    if (!Number.isInteger(value) || value < 0) {
      this.fail(field, 'Must not be negative.');
      return PAGE_SIZE_MAX;
    }
    return value === 0 ? PAGE_SIZE_MAX : Math.min(value, PAGE_SIZE_MAX);
  }

  pageToken(field: string, listing: Listing, uid: string, value: string): PageCursor | undefined {
    if (value === '') return undefined;
    const cursor = decodePageToken(listing, uid, value);
    if (!cursor) this.fail(field, 'Not a page token of this listing and uid (it must come from the same request).');
    return cursor;
  }

  /** A secret or token_id. A secret issued for another uid is reported as not found, not here. */
  tokenRef(field: string, value: string): { ref: TokenRef; uid?: string } | undefined {
    if (value === '') {
      this.fail(field, 'Required: the auth token or its token_id.');
      return undefined;
    }
    const parsed = parseTokenRef(value);
    if (!parsed) this.fail(field, 'Not an auth token or token_id of this service.');
    return parsed;
  }

  /** ValidateAuthToken accepts only the secret; its checksum is verified before any lookup. */
  secretToken(field: string, value: string): ReturnType<typeof parseToken> {
    if (value === '') {
      this.fail(field, 'Required.');
      return undefined;
    }
    const parsed = parseToken(value);
    if (!parsed) this.fail(field, 'Not an auth token of this service (a token_id is not accepted here).');
    return parsed;
  }

  oneOf<T extends string>(field: string, values: readonly string[], allowed: readonly T[]): T[] {
    const unknown = values.filter((v) => !allowed.includes(v as T));
    if (unknown.length > 0) {
      this.fail(field, `Unknown path(s) ${unknown.join(', ')}; allowed: ${allowed.join(', ')}.`);
    }
    return values.filter((v): v is T => allowed.includes(v as T));
  }

  fail(field: string, description: string): void {
    this.violations.push({ field, description });
  }

  /** Throws ERR_BAD_REQUEST naming every bad field, if there is one. */
  check(): void {
    if (this.violations.length > 0) throw badRequest(this.violations);
  }
}
