// Whether a unary call's client has given up (src/grpc/unary.ts), on its own.
import { expect, test } from 'vitest';
import { ErrorReason } from '../../src/domain/errors';
import { givenUp } from '../../src/grpc/unary';

test('givenUp: a call still open is wanted, whatever its deadline', () => {
  expect(givenUp({ cancelled: false, getDeadline: () => Date.now() - 1_000 })).toBeUndefined();
  expect(givenUp({ cancelled: false, getDeadline: () => Infinity })).toBeUndefined();
});

test('givenUp: a call cancelled before its deadline was cancelled by its client', () => {
  expect(givenUp({ cancelled: true, getDeadline: () => Date.now() + 60_000 })?.reason).toBe(ErrorReason.CANCELLED);
  expect(givenUp({ cancelled: true, getDeadline: () => Infinity })?.reason).toBe(ErrorReason.CANCELLED);
});

test('givenUp: a call cancelled at its deadline ran out of time', () => {
  expect(givenUp({ cancelled: true, getDeadline: () => new Date(Date.now() - 1) })?.reason).toBe(ErrorReason.DEADLINE_EXCEEDED);
});
