// Recording last use must never hold up or fail the login check: here the user's document is
// locked by an open transaction (another application's, or an operator's: the service itself uses
// none) while a validation is due to write.
import { MongoClient } from 'mongodb';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { startTestService, type TestService } from '../support/service';
import { startTestMongod, type TestMongod } from '../support/mongod';

let mongod: TestMongod;
let svc: TestService;
let admin: MongoClient;

beforeAll(async () => {
  mongod = await startTestMongod({ name: 'last-use' });
  svc = await startTestService({ MONGODB_URI: mongod.uri });
  admin = await MongoClient.connect(mongod.uri);
});
afterAll(async () => {
  await admin?.close();
  await svc?.stop();
  await mongod?.destroy();
});

test('a validation whose last-use write is stuck still succeeds, within the write budget', async () => {
  const { authToken } = await svc.users.createUser({ uid: 'stuck', name: 'Stuck', withAuthToken: true });
  // Another client's open transaction writes the user's document and neither commits nor aborts
  // (MongoDB would expire it after transactionLifetimeLimitSeconds).
  const session = admin.startSession();
  session.startTransaction();
  await admin.db(svc.dbName).collection('users').updateOne({ _id: 'stuck' as never }, { $set: { name: 'Locked' } }, { session });

  const started = Date.now();
  const validated = await svc.tokens.validateAuthToken({ authToken: authToken!.authToken, platform: 'ios' });
  const tookMs = Date.now() - started;
  expect(validated.uid).toBe('stuck');
  expect(validated.authToken?.lastUsedTime).toBeUndefined(); // not recorded, and not claimed
  expect(tookMs).toBeLessThan(2000);

  // Once the lock is gone, the next validation records the use.
  await session.abortTransaction();
  await session.endSession();
  const recorded = await svc.tokens.validateAuthToken({ authToken: authToken!.authToken, platform: 'ios' });
  expect(recorded.authToken?.lastUsedTime).toBeInstanceOf(Date);
  expect(recorded.authToken?.platform).toBe('ios');
});
