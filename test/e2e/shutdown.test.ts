// Graceful shutdown of the real process: on SIGTERM an in-flight call completes, a new call is
// refused, and the process exits 0.
import { randomUUID } from 'node:crypto';
import { credentials, Metadata, status } from '@grpc/grpc-js';
import { MongoClient } from 'mongodb';
import { afterAll, beforeAll, expect, inject, test } from 'vitest';
import { UserServiceClient } from '../../gen/authtoken/v1/user_service';
import { type ServerProcess, startServerProcess } from '../support/server-process';
import { failCommands, failPointOff } from '../support/fail-points';

const appName = `shutdown-${randomUUID().slice(0, 8)}`;
let mongo: MongoClient;
let server: ServerProcess | undefined;

beforeAll(async () => {
  mongo = await MongoClient.connect(inject('mongoUri'));
});
afterAll(async () => {
  await failPointOff(mongo.db('admin'));
  await server?.stop();
  await mongo.close();
});

/** Resolves when the process writes a log line with this msg (no timing assumptions). */
function logLine(child: ServerProcess['process'], msg: string): Promise<void> {
  return new Promise((resolve) => {
    let buffered = '';
    const onData = (chunk: Buffer) => {
      buffered += chunk.toString();
      if (buffered.includes(`"msg":"${msg}"`)) {
        child.stdout!.off('data', onData);
        resolve();
      }
    };
    child.stdout!.on('data', onData);
  });
}

test('SIGTERM lets an in-flight call finish, refuses new calls, then exits 0', async () => {
  const dbName = `test_shutdown_${randomUUID().slice(0, 8)}`;
  server = await startServerProcess({
    MONGODB_URI: `${inject('mongoUri')}&appName=${appName}`,
    MONGODB_DB: dbName,
    SHUTDOWN_GRACE_MS: '15000',
  });
  const child = server.process;
  await server.users.createUser({ uid: 'inflight', name: 'In Flight' });

  // Hold the next `find` of this service in MongoDB for 1.5 s: GetUser stays in flight.
  const admin = mongo.db('admin');
  const find = await failCommands(admin, { commands: ['find'], appName, blockMs: 1500 });
  const inFlight = server.users.getUser({ uid: 'inflight' });
  await find.entered();

  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const refusing = logLine(child, 'refusing new calls; in-flight calls may finish');
  child.kill('SIGTERM');
  await refusing;

  // A call that starts now is refused; the one already running completes normally.
  const lateClient = new UserServiceClient(`127.0.0.1:${server.port}`, credentials.createInsecure());
  const late = await new Promise<{ code: number }>((resolve) =>
    lateClient.getUser({ uid: 'inflight' }, new Metadata(), { deadline: Date.now() + 5000 }, (error) =>
      resolve({ code: error ? error.code : status.OK }),
    ),
  );
  lateClient.close();
  expect(late.code).toBe(status.UNAVAILABLE);

  const user = await inFlight.catch((error) => {
    throw new Error(`in-flight call failed: ${error}\n${server!.output()}`);
  });
  expect(user.uid).toBe('inflight');
  expect(user.name).toBe('In Flight');
  expect(await exited).toBe(0);
  expect(server.output()).toContain('"msg":"stopped"');
  await mongo.db(dbName).dropDatabase();
});
