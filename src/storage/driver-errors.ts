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

export function isDatabaseUnavailable(error: unknown): boolean {
  if (
    error instanceof MongoNetworkError ||
    error instanceof MongoServerSelectionError ||
    error instanceof MongoNotConnectedError ||
    error instanceof MongoTopologyClosedError
  ) {
    return true;
  }
  return (
    error instanceof MongoError &&
    (error.hasErrorLabel('RetryableWriteError') ||
      error.hasErrorLabel('TransientTransactionError') ||
      (typeof error.code === 'number' && UNAVAILABLE_CODES.has(error.code)))
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
