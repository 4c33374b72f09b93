import { afterAll, beforeAll, expect, test } from 'vitest';
import { status } from '@grpc/grpc-js';
import { startTestService, type TestService } from '../support/service';
import { grpcError } from '../support/grpc-status';

let svc: TestService;
beforeAll(async () => {
  svc = await startTestService();
});
afterAll(() => svc?.stop());

test('create a user with a token, then validate it', async () => {
  const created = await svc.users.createUser({ uid: 'Smoke', name: 'Smoke', withAuthToken: true });
  expect(created.user?.uid).toBe('smoke');
  const secret = created.authToken!.authToken;
  const validated = await svc.tokens.validateAuthToken({ authToken: secret });
  expect(validated.uid).toBe('smoke');
  const error = await grpcError(svc.tokens.listAuthTokens({ uid: 'nobody' }));
  expect(error.code).toBe(status.NOT_FOUND);
  expect(error.reason).toBe('ERR_UID_NOT_FOUND');
});
