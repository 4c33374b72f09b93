// The pieces of a unary call's handling (src/grpc/unary.ts), each on its own.
import { EventEmitter } from 'node:events';
import { describe, expect, test } from 'vitest';
import { DEFAULT_CALL_BUDGET_MS } from '../../src/domain/deadline';
import { DomainError, ErrorReason } from '../../src/domain/errors';
import { cancellableDeadline, checkedRequest } from '../../src/grpc/unary';

/** What grpc-js gives a handler, as far as the deadline is concerned. */
function fakeCall(deadline: Date | number) {
  return Object.assign(new EventEmitter(), { cancelled: false, getDeadline: () => deadline });
}

const reasonOf = (signal: AbortSignal | undefined) => (signal?.reason as DomainError | undefined)?.reason;

describe('cancellableDeadline', () => {
  test('the client deadline, or the default budget without one', () => {
    const soon = Date.now() + 2_000;
    expect(cancellableDeadline(fakeCall(soon)).deadline.at).toBe(soon);
    const budget = cancellableDeadline(fakeCall(Infinity)).deadline.at - Date.now();
    expect(budget).toBeGreaterThan(DEFAULT_CALL_BUDGET_MS - 1_000);
    expect(budget).toBeLessThanOrEqual(DEFAULT_CALL_BUDGET_MS);
  });

  test('cancelled while the handler runs: the signal aborts with ERR_CANCELLED', () => {
    const call = fakeCall(Infinity);
    const { deadline } = cancellableDeadline(call);
    const signal = deadline.signal; // storage asks for it as an operation starts
    expect(signal?.aborted).toBe(false);
    call.emit('cancelled', 'cancelled');
    expect(reasonOf(signal)).toBe(ErrorReason.CANCELLED);
  });

  test('ended at its deadline while the handler runs: the signal aborts with ERR_DEADLINE_EXCEEDED', () => {
    const call = fakeCall(Date.now() - 1);
    const { deadline } = cancellableDeadline(call);
    const signal = deadline.signal;
    call.emit('cancelled', 'cancelled');
    expect(reasonOf(signal)).toBe(ErrorReason.DEADLINE_EXCEEDED);
  });

  test('a call cancelled before storage asks for the signal gets one already aborted', () => {
    const call = fakeCall(Infinity);
    const { deadline } = cancellableDeadline(call);
    call.cancelled = true;
    call.emit('cancelled', 'cancelled');
    expect(reasonOf(deadline.signal)).toBe(ErrorReason.CANCELLED);
  });

  test('grpc-js reports every finished call as cancelled: after over(), nothing aborts', () => {
    const call = fakeCall(Infinity);
    const running = cancellableDeadline(call);
    const signal = running.deadline.signal;
    running.over();
    call.emit('cancelled', 'cancelled');
    expect(signal?.aborted).toBe(false);
  });
});

describe('checkedRequest', () => {
  test('a request as decoded passes as is', async () => {
    const request = { uid: 'alice' };
    await expect(checkedRequest(request)).resolves.toBe(request);
  });
});
