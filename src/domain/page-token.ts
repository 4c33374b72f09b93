// Opaque keyset page tokens. They are bound to the listing and uid they came from; a token that
// was altered, or replayed against another uid or listing, does not decode.
// They are not secret: a caller who forges one can only page through what it may already list.
import type { PageCursor } from './model';

export type Listing = 'tokens' | 'archive';

interface PageTokenBody {
  v: 1;
  l: Listing;
  u: string;
  t: number;
  i: string;
}

export function encodePageToken(listing: Listing, uid: string, cursor: PageCursor): string {
  const body: PageTokenBody = { v: 1, l: listing, u: uid, t: cursor.time.getTime(), i: cursor.id };
  return Buffer.from(JSON.stringify(body), 'utf8').toString('base64url');
}

/** The cursor in a non-empty `pageToken`, or undefined if it is not one of ours for this listing and uid. */
export function decodePageToken(listing: Listing, uid: string, pageToken: string): PageCursor | undefined {
  let body: Partial<PageTokenBody> | undefined;
  try {
    body = JSON.parse(Buffer.from(pageToken, 'base64url').toString('utf8'));
  } catch {
    body = undefined;
  }
  if (
    body?.v !== 1 ||
    body.l !== listing ||
    body.u !== uid ||
    !Number.isSafeInteger(body.t) ||
    typeof body.i !== 'string' ||
    body.i.length > 64
  ) {
    return undefined;
  }
  return { time: new Date(body.t as number), id: body.i };
}
