// Turns MongoDB driver failures that mean "the database is unreachable right now" into the
// domain's ERR_SERVICE_UNAVAILABLE (and an exceeded maxTimeMS into ERR_DEADLINE_EXCEEDED), so no
// other layer needs to know the driver's error types.
import {
  MongoError,
  MongoNetworkError,
  MongoNotConnectedError,
  MongoServerSelectionError,
  MongoTopologyClosedError,
} from 'mongodb';
import { deadlineExceeded, serviceUnavailable } from '../domain/errors';

// Server codes for a node that is stepping down, shutting down or unreachable.
const UNAVAILABLE_CODES = new Set([6, 7, 89, 91, 189, 9001, 10107, 11600, 11602, 13435, 13436]);
const MAX_TIME_EXPIRED = 50;

/** The error and those it wraps: a bulk write keeps the network error that ended it inside. */
function* causes(error: unknown): Generator<unknown> {
  for (let depth = 0; error instanceof Error && depth < 5; depth++) {
    yield error;
    const inner = (error as { errorResponse?: unknown }).errorResponse;
    error = inner instanceof Error ? inner : error.cause;
  }
}

/** No server could be reached. */
export function isDatabaseUnreachable(error: unknown): boolean {
  for (const e of causes(error)) {
    if (
      e instanceof MongoNetworkError ||
      e instanceof MongoServerSelectionError ||
      e instanceof MongoNotConnectedError ||
      e instanceof MongoTopologyClosedError
    ) {
      return true;
    }
  }
  return false;
}

export function isDatabaseUnavailable(error: unknown): boolean {
  if (isDatabaseUnreachable(error)) return true;
  return [...causes(error)].some(
    (e) =>
      e instanceof MongoError &&
      (e.hasErrorLabel('RetryableWriteError') ||
        e.hasErrorLabel('TransientTransactionError') ||
        (typeof e.code === 'number' && UNAVAILABLE_CODES.has(e.code))),
  );
}

/** Wraps every method of `target` so that unavailability surfaces as a domain error. */
export function translatingDriverErrors<T extends object>(target: T): T {
  return new Proxy(target, {
    get(object, key, receiver) {
      const value = Reflect.get(object, key, receiver);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) =>
        (value as (...a: unknown[]) => Promise<unknown>).apply(object, args).catch((error: unknown) => {
          if (error instanceof MongoError && error.code === MAX_TIME_EXPIRED) throw deadlineExceeded();
          throw isDatabaseUnavailable(error) ? serviceUnavailable(error) : error;
        });
    },
  });
}
