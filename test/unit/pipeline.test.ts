// The unary call pipeline's steps (src/grpc/pipeline/), each on its own with a plain function as
// the rest of the pipeline.
import { status, type StatusObject } from '@grpc/grpc-js';
import { expect, test } from 'vitest';
import { UserServiceService } from '../../gen/authtoken/v1/user_service';
import { callDeadline } from '../../src/domain/deadline';
import { ErrorReason, uidNotFound } from '../../src/domain/errors';
import { InFlightCalls } from '../../src/grpc/call-hooks';
import { decodingFailuresAsValues } from '../../src/grpc/decoding';
import { type CallContext, type Handle, pipeline } from '../../src/grpc/pipeline/call-context';
import { countedInFlight, decodedRequest, recorded } from '../../src/grpc/pipeline/steps';
import { reasonOf } from '../support/grpc-status';

type Recorded = [code: status, caller: string | undefined, requestId: string | undefined, error: unknown];

function context(): { context: CallContext; recorded: Recorded[] } {
  const ends: Recorded[] = [];
  return {
    recorded: ends,
    context: {
      path: '/authtoken.v1.UserService/GetUser',
      deadline: callDeadline(Infinity),
      caller: 'backend',
      requestId: 'req-1',
      recording: (code, who, error) => ends.push([code, who.caller, who.requestId, error]),
    },
  };
}

test('pipeline: the steps run in order around the handler, each passing the request and context on', async () => {
  const order: string[] = [];
  const step = (name: string) => (request: unknown, ctx: CallContext, next: Handle) => {
    order.push(`${name} in`);
    return next({ ...(request as object), [name]: true }, ctx).finally(() => order.push(`${name} out`));
  };
  const { context: ctx } = context();
  const handle = pipeline([step('a'), step('b')], async (request, c) => {
    order.push('handler');
    expect(c).toBe(ctx);
    return request;
  });
  expect(await handle({ uid: 'alice' }, ctx)).toEqual({ uid: 'alice', a: true, b: true });
  expect(order).toEqual(['a in', 'b in', 'handler', 'b out', 'a out']);
});

test('recorded: a response is recorded OK with the caller and request id, and returned as is', async () => {
  const { context: ctx, recorded: ends } = context();
  const response = { uid: 'alice' };
  expect(await recorded({}, ctx, async () => response)).toBe(response);
  expect(ends).toEqual([[status.OK, 'backend', 'req-1', undefined]]);
});

test('recorded: a domain error becomes its status, recorded with its code', async () => {
  const { context: ctx, recorded: ends } = context();
  const error = uidNotFound('bob');
  const failed = (await recorded({}, ctx, () => Promise.reject(error)).catch((e: unknown) => e)) as StatusObject;
  expect([failed.code, reasonOf(failed)]).toEqual([status.NOT_FOUND, ErrorReason.UID_NOT_FOUND]);
  expect(ends).toEqual([[status.NOT_FOUND, 'backend', 'req-1', error]]);
});

test('recorded: anything else is INTERNAL, with no internals in the message, and the error recorded for the log', async () => {
  const { context: ctx, recorded: ends } = context();
  const bug = new TypeError('secret internals');
  const failed = (await recorded({}, ctx, () => Promise.reject(bug)).catch((e: unknown) => e)) as StatusObject;
  expect([failed.code, reasonOf(failed), failed.details.includes('secret')]).toEqual([status.INTERNAL, ErrorReason.OPERATION_FAILED, false]);
  expect(ends).toEqual([[status.INTERNAL, 'backend', 'req-1', bug]]);
});

test('countedInFlight: a running handler is in flight until it ends, whether it answers or fails', async () => {
  const inFlight = new InFlightCalls();
  const counted = countedInFlight(inFlight);
  const { context: ctx } = context();
  let finish!: () => void;
  let fail!: (e: Error) => void;
  const answering = counted({}, ctx, () => new Promise((resolve) => (finish = () => resolve('ok'))));
  const failing = counted({}, ctx, () => new Promise((_, reject) => (fail = reject))).catch(() => 'failed');
  let idle = false;
  const becameIdle = inFlight.idle().then(() => (idle = true));
  finish();
  await answering;
  expect(idle).toBe(false);
  fail(new Error('boom'));
  expect(await failing).toBe('failed');
  await becameIdle;
  expect(idle).toBe(true);
});

test('decodedRequest: a request as decoded goes on as is', async () => {
  const { context: ctx } = context();
  const request = { uid: 'alice' };
  expect(await decodedRequest(request, ctx, async (r) => r)).toBe(request);
});

test('decodedRequest: a request its decoder could not take is INVALID_ARGUMENT, and the handler does not run', async () => {
  const { context: ctx } = context();
  // A field 1 (uid) of wire type 2 whose length runs past the end of the bytes.
  const undecodable = decodingFailuresAsValues(UserServiceService).getUser.requestDeserialize(Buffer.from([0x0a, 0x05, 0x61]));
  let ran = false;
  const failed = await decodedRequest(undecodable, ctx, async () => (ran = true)).catch((e: unknown) => e);
  expect(ran).toBe(false);
  expect((failed as { reason: string }).reason).toBe(ErrorReason.BAD_REQUEST);
  expect((failed as { fieldViolations: { field: string }[] }).fieldViolations.map((v) => v.field)).toEqual(['']);
});
