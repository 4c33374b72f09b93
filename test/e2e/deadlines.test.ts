// A call's gRPC deadline reaches MongoDB: every operation the service sends carries maxTimeMS equal
// to what is left of the call's deadline (30 s when the client set none), so a call the client has
// given up on stops using the database. Read back from MongoDB's own profiler.
//
// The file runs its own mongod (with test commands): the failCommand fail point is one setting per
// server, and other test files (the crash test) set it on the shared one.
import { randomUUID } from 'node:crypto';
import { type CallOptions, credentials, Metadata, type ServiceError, status } from '@grpc/grpc-js';
import { type Db, type Document, MongoClient } from 'mongodb';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { DEFAULT_CALL_BUDGET_MS } from '../../src/domain/deadline';
import { COPY_BUDGET_MS } from '../../src/storage/pending-archive';
import {
  CreateUserRequest,
  DeleteUserRequest,
  GetUserRequest,
  UserServiceClient,
} from '../../gen/authtoken/v1/user_service';
import { startTestService, type TestService } from '../support/service';
import { scrapeMetrics } from '../support/metrics';
import { pollUntil } from '../support/poll';
import { type FailPoint, failCommands, failPointOff } from '../support/fail-points';
import { startTestMongod, type TestMongod } from '../support/mongod';

/** The service's MongoDB client announces this appName, so fail points can target it alone. */
const APP_NAME = `deadlines-${randomUUID().slice(0, 8)}`;

let mongod: TestMongod | undefined;
let mongo: MongoClient | undefined;
let svc: TestService;
/** The service's database on this file's mongod (svc.db is on the shared one). */
let db: Db;
let users: InstanceType<typeof UserServiceClient>;

beforeAll(async () => {
  mongod = await startTestMongod({ name: 'deadlines', testCommands: true });
  svc = await startTestService({ MONGODB_URI: `${mongod.uri}&appName=${APP_NAME}` });
  mongo = await MongoClient.connect(mongod.uri);
  db = mongo.db(svc.dbName);
  // Level 2 profiles every operation on this database, with the command as sent.
  await db.command({ profile: 2 });
  // The promised clients take no call options; this generated client does.
  users = new UserServiceClient(`127.0.0.1:${svc.port}`, credentials.createInsecure());
});

afterAll(async () => {
  if (mongo) await failPointOff(mongo.db('admin'));
  users?.close();
  await svc?.stop();
  await mongo?.close();
  await mongod?.destroy();
});

/** Calls a generated-client method with call options; resolves with the response or the error. */
function unary<Req, Res>(
  method: (request: Req, metadata: Metadata, options: Partial<CallOptions>, callback: (e: ServiceError | null, r: Res) => void) => unknown,
  client: object,
  request: Req,
  options: Partial<CallOptions>,
): Promise<{ response?: Res; error?: ServiceError; elapsedMs: number }> {
  const started = performance.now();
  return new Promise((resolve) =>
    method.call(client, request, new Metadata(), options, (error, response) =>
      resolve(error ? { error, elapsedMs: performance.now() - started } : { response, elapsedMs: performance.now() - started }),
    ),
  );
}

/** The service's own operations on this database (not the test's reads), oldest first. */
function serviceOps(filter: Document): Promise<Document[]> {
  return db
    .collection('system.profile')
    .find({ appName: APP_NAME, ...filter })
    .sort({ ts: 1 })
    .toArray();
}

type SeriesOf = readonly [name: string, labels: Record<string, string>];
const RPC = { grpc_type: 'unary', grpc_service: 'authtoken.v1.UserService' };
const handled = (method: string, code: string): SeriesOf => ['grpc_server_handled_total', { ...RPC, grpc_method: method, grpc_code: code }];
const started = (method: string): SeriesOf => ['grpc_server_started_total', { ...RPC, grpc_method: method }];

async function metric([name, labels]: SeriesOf): Promise<number | undefined> {
  return (await scrapeMetrics(svc.metricsPort)).value(name, labels);
}

/** The server may still be working on a call the client has given up on: wait until it has finished. */
async function untilHandled(method: string, code: string, count: number): Promise<void> {
  await pollUntil(`${method} to finish with ${code} on the server`, async () => (await metric(handled(method, code))) ?? 0, (n) => n >= count, {
    timeoutMs: 10_000,
    intervalMs: 50,
  });
}

/** Blocks the next `command` the service sends (only it: matched by appName) for `ms` inside mongod. */
function blockNext(command: string, ms: number): Promise<FailPoint> {
  return failCommands(db.admin(), { commands: [command], appName: APP_NAME, blockMs: ms });
}

test('a 3 s deadline reaches MongoDB as maxTimeMS <= 3000 on reads and writes', async () => {
  const created = await unary(
    users.createUser,
    users,
    CreateUserRequest.fromPartial({ uid: 'with-deadline', name: 'With deadline' }),
    { deadline: Date.now() + 3_000 },
  );
  expect(created.error).toBeUndefined();
  const got = await unary(users.getUser, users, GetUserRequest.fromPartial({ uid: 'with-deadline' }), {
    deadline: Date.now() + 3_000,
  });
  expect(got.response?.uid).toBe('with-deadline');

  const [insert, ...moreInserts] = await serviceOps({ op: 'insert', 'command.documents._id': 'with-deadline' });
  const [find, ...moreFinds] = await serviceOps({ op: 'query', 'command.filter._id': 'with-deadline' });
  expect([moreInserts, moreFinds]).toEqual([[], []]);
  for (const op of [insert!, find!]) {
    // What was left of 3 s when the operation was sent: at most 3000, and far more than a default of 0.
    expect(op.command.maxTimeMS).toBeLessThanOrEqual(3_000);
    expect(op.command.maxTimeMS).toBeGreaterThan(2_000);
  }
});

test('a revoking write gets what is left of the deadline; its archive copy, which finishes a write already applied, gets its own budget', async () => {
  await svc.users.createUser({ uid: 'txn', name: 'Txn', withAuthToken: true });
  const deleted = await unary(users.deleteUser, users, DeleteUserRequest.fromPartial({ uid: 'txn' }), {
    deadline: Date.now() + 3_000,
  });
  expect(deleted.response?.archivedTokenCount).toBe(1);

  const findAndModify = await serviceOps({ op: 'command', 'command.findAndModify': 'users', 'command.query._id': 'txn' });
  expect(findAndModify).toHaveLength(1);
  const update = findAndModify[0]!.command;
  // One atomic update, in no transaction (a retryable write carries a txnNumber, but never these).
  expect([update.startTransaction, update.autocommit]).toEqual([undefined, undefined]);
  expect(update.maxTimeMS).toBeLessThanOrEqual(3_000);
  expect(update.maxTimeMS).toBeGreaterThan(2_000);
  // The copy to the archive (the profiler leaves its documents out).
  const copy = await serviceOps({ op: 'insert', ns: `${svc.dbName}.archived_tokens` });
  expect(copy.map((op) => op.command.maxTimeMS)).toEqual([COPY_BUDGET_MS]);
});

test(`a call without a deadline gets the default budget (${DEFAULT_CALL_BUDGET_MS} ms)`, async () => {
  await svc.users.createUser({ uid: 'no-deadline', name: 'No deadline' });
  const got = await unary(users.getUser, users, GetUserRequest.fromPartial({ uid: 'no-deadline' }), {});
  expect(got.response?.uid).toBe('no-deadline');
  const [find, ...more] = await serviceOps({ op: 'query', 'command.filter._id': 'no-deadline' });
  expect(more).toEqual([]);
  expect(find!.command.maxTimeMS).toBeLessThanOrEqual(DEFAULT_CALL_BUDGET_MS);
  expect(find!.command.maxTimeMS).toBeGreaterThan(DEFAULT_CALL_BUDGET_MS - 1_000);
});

test('a call whose deadline has already passed does nothing in the database', async () => {
  const startedBefore = (await metric(started('CreateUser'))) ?? 0;
  const expiredBefore = (await metric(handled('CreateUser', 'DEADLINE_EXCEEDED'))) ?? 0;
  const late = await unary(users.createUser, users, CreateUserRequest.fromPartial({ uid: 'too-late', name: 'Too late' }), {
    deadline: Date.now() - 1_000,
  });
  expect(late.error?.code).toBe(status.DEADLINE_EXCEEDED);
  // grpc-js still sends it (grpc-timeout: 0m) and fails it locally a moment later. A later call on
  // the same connection is a barrier: once it is answered, the server has handled the first one.
  const barrier = await unary(users.getUser, users, GetUserRequest.fromPartial({ uid: 'barrier' }), {});
  expect(barrier.error?.code).toBe(status.NOT_FOUND);
  // The server took the call and refused to start any database operation for it...
  expect(await metric(started('CreateUser'))).toBe(startedBefore + 1);
  expect(await metric(handled('CreateUser', 'DEADLINE_EXCEEDED'))).toBe(expiredBefore + 1);
  // ...so MongoDB saw nothing and nothing was stored.
  expect(await serviceOps({ 'command.documents._id': 'too-late' })).toEqual([]);
  expect(await db.collection('users').findOne({ _id: 'too-late' as never })).toBeNull();
});

test('a read that MongoDB holds past the deadline ends DEADLINE_EXCEEDED, on the client and on the server', async () => {
  await svc.users.createUser({ uid: 'slow-read', name: 'Slow read' });
  const [okBefore, expiredBefore] = [
    (await metric(handled('GetUser', 'OK'))) ?? 0,
    (await metric(handled('GetUser', 'DEADLINE_EXCEEDED'))) ?? 0,
  ];
  await blockNext('find', 1_500);
  const result = await unary(users.getUser, users, GetUserRequest.fromPartial({ uid: 'slow-read' }), {
    deadline: Date.now() + 500,
  });
  expect(result.error?.code).toBe(status.DEADLINE_EXCEEDED);
  expect(result.elapsedMs).toBeLessThan(1_500);
  // The server's handler ends with DEADLINE_EXCEEDED too: mongod answered MaxTimeMSExpired (50),
  // which the service translates, instead of returning the user after 1.5 s.
  await untilHandled('GetUser', 'DEADLINE_EXCEEDED', expiredBefore + 1);
  expect(await metric(handled('GetUser', 'DEADLINE_EXCEEDED'))).toBe(expiredBefore + 1);
  expect(await metric(handled('GetUser', 'OK'))).toBe(okBefore);
});

test('a write that MongoDB holds past the deadline is not applied', async () => {
  const expiredBefore = (await metric(handled('CreateUser', 'DEADLINE_EXCEEDED'))) ?? 0;
  await blockNext('insert', 1_500);
  const result = await unary(users.createUser, users, CreateUserRequest.fromPartial({ uid: 'slow-write', name: 'Slow write' }), {
    deadline: Date.now() + 500,
  });
  expect(result.error?.code).toBe(status.DEADLINE_EXCEEDED);
  // Once the server has finished the call, the insert was refused: with the default 30 s budget it
  // would have gone through after the 1.5 s block.
  await untilHandled('CreateUser', 'DEADLINE_EXCEEDED', expiredBefore + 1);
  expect(await db.collection('users').findOne({ _id: 'slow-write' as never })).toBeNull();
});

test('the same blocked write without a deadline is applied (the control case)', async () => {
  await blockNext('insert', 1_500);
  const result = await unary(users.createUser, users, CreateUserRequest.fromPartial({ uid: 'slow-ok', name: 'Slow ok' }), {});
  expect(result.error).toBeUndefined();
  expect(result.response?.user?.uid).toBe('slow-ok');
  expect(result.elapsedMs).toBeGreaterThanOrEqual(1_500);
  expect(await db.collection('users').findOne({ _id: 'slow-ok' as never }, { projection: { name: 1 } })).toEqual({
    _id: 'slow-ok',
    name: 'Slow ok',
  });
});


test('a DeleteUser whose client cancels while mongod holds its one update applies whole or not at all: here whole', async () => {
  await svc.users.createUser({ uid: 'cancelled-delete', name: 'Cancelled delete', withAuthToken: true });
  // DeleteUser is one update of the user's document (its token moves to pending, the user ends),
  // then the copy to the archive. The update is held in mongod while the client cancels: once sent,
  // it runs to its end, and the copy that follows still runs (it finishes an applied write).
  const held = await blockNext('findAndModify', 1_500);
  const call = users.deleteUser(DeleteUserRequest.fromPartial({ uid: 'cancelled-delete' }), new Metadata(), {}, () => undefined);
  await held.entered();
  call.cancel();
  await pollUntil('the held delete finishes', () => db.collection('users').countDocuments({ _id: 'cancelled-delete' as never }), (n) => n === 0, {
    timeoutMs: 10_000,
    intervalMs: 25,
  });
  expect(await db.collection('archived_tokens').countDocuments({ uid: 'cancelled-delete' })).toBe(1);
});
