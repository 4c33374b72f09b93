// The request check of a unary call (src/grpc/unary.ts), on its own.
import { expect, test } from 'vitest';
import { checkedRequest } from '../../src/grpc/unary';

test('checkedRequest: a request as decoded passes as is', async () => {
  const request = { uid: 'alice' };
  await expect(checkedRequest(request)).resolves.toBe(request);
});
