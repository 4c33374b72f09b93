// V8 collects garbage when JavaScript allocates, not when the process goes quiet. Responses
// dropped with a client's connection (up to UNREAD_RESPONSE_BYTES of them, plus the garbage of
// encoding them) would otherwise stay resident until the next busy moment, which on a quiet replica
// can be minutes. With --expose-gc (npm run serve and the image pass it), a full collection follows
// a large drop, at most once per interval; without it, this does nothing.

/** Dropped bytes that are worth a full collection (one ListAuthTokens page of a full user is 0.6 MB). */
const WORTH_COLLECTING_BYTES = 1024 * 1024;
/** Let the connection's other streams close first, and never collect more often than this. */
const COLLECT_AFTER_MS = 1_000;

/** Returns what to call with the size of each drop. */
export function memoryRelief(gc = (globalThis as { gc?: () => void }).gc): (droppedBytes: number) => void {
  let dropped = 0;
  let scheduled = false;
  return (bytes) => {
    dropped += bytes;
    if (!gc || scheduled || dropped < WORTH_COLLECTING_BYTES) return;
    scheduled = true;
    setTimeout(() => {
      dropped = 0;
      scheduled = false;
      gc();
    }, COLLECT_AFTER_MS).unref();
  };
}
