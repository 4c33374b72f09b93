// The errors every AuthTokenService method shares: ERR_UID_NOT_FOUND for an unknown uid, and
// ERR_BAD_REQUEST naming auth_token or uid when either is malformed -- each changing nothing.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { status } from '@grpc/grpc-js';
import { startTestService, type TestService } from '../support/service';
import { grpcError } from '../support/grpc-status';
import { createUser, expectValid, issue, snapshot } from './helpers';

let svc: TestService;
beforeAll(async () => {
  svc = await startTestService();
});
afterAll(() => svc?.stop());

/** `secret` with one character of its random part changed, so that its checksum no longer matches. */
function withOneCharChanged(secret: string): string {
  const i = secret.lastIndexOf('_') + 5;
  const changed = secret[i] === 'A' ? 'B' : 'A';
  return secret.slice(0, i) + changed + secret.slice(i + 1);
}

describe('every method', () => {
  test('ERR_UID_NOT_FOUND for an unknown uid', async () => {
    await createUser(svc, 'em-real');
    const real = await issue(svc, 'em-real');
    const before = await snapshot(svc);
    const uid = 'EM-Ghost';
    const calls: [string, () => Promise<unknown>][] = [
      ['createAuthToken', () => svc.tokens.createAuthToken({ uid })],
      ['listAuthTokens', () => svc.tokens.listAuthTokens({ uid })],
      ['getAuthToken by id', () => svc.tokens.getAuthToken({ uid, authToken: real.tokenId })],
      ['getAuthToken by secret', () => svc.tokens.getAuthToken({ uid, authToken: real.secret })],
      ['updateAuthToken', () => svc.tokens.updateAuthToken({ uid, authToken: real.tokenId, platform: 'x' })],
      ['updateAuthToken without changes', () => svc.tokens.updateAuthToken({ uid, authToken: real.tokenId })],
      ['deleteAuthToken', () => svc.tokens.deleteAuthToken({ uid, authToken: real.tokenId })],
      ['flushAuthTokens', () => svc.tokens.flushAuthTokens({ uid })],
      ['listArchivedAuthTokens', () => svc.tokens.listArchivedAuthTokens({ uid })],
    ];
    for (const [method, call] of calls) {
      const error = await grpcError(call());
      expect({ method, code: error.code, reason: error.reason, metadata: error.metadata }).toEqual({
        method,
        code: status.NOT_FOUND,
        reason: 'ERR_UID_NOT_FOUND',
        metadata: { uid: 'em-ghost' },
      });
    }
    expect(await snapshot(svc)).toEqual(before);
    await expectValid(svc, real.secret, real.tokenId);
  });

  test('ERR_BAD_REQUEST on field auth_token for a malformed token', async () => {
    await createUser(svc, 'em-malformed');
    const real = await issue(svc, 'em-malformed');
    const before = await snapshot(svc);
    const malformed = [
      'nope',
      withOneCharChanged(real.secret),
      real.secret.slice(0, -1),
      `${real.secret}x`,
      real.secret.toUpperCase(),
      real.tokenId.slice(0, -1),
      `tid_${'A'.repeat(21)}!`,
      '',
    ];
    expect(withOneCharChanged(real.secret)).not.toBe(real.secret);
    for (const authToken of malformed) {
      const calls: [string, () => Promise<unknown>][] = [
        ['getAuthToken', () => svc.tokens.getAuthToken({ uid: 'em-malformed', authToken })],
        ['updateAuthToken', () => svc.tokens.updateAuthToken({ uid: 'em-malformed', authToken, platform: 'x' })],
        ['deleteAuthToken', () => svc.tokens.deleteAuthToken({ uid: 'em-malformed', authToken })],
        ['validateAuthToken', () => svc.tokens.validateAuthToken({ authToken })],
      ];
      for (const [method, call] of calls) {
        const error = await grpcError(call());
        expect({ authToken, method, code: error.code, reason: error.reason, fields: error.fields }).toEqual({
          authToken,
          method,
          code: status.INVALID_ARGUMENT,
          reason: 'ERR_BAD_REQUEST',
          fields: ['auth_token'],
        });
      }
    }
    expect(await snapshot(svc)).toEqual(before);
    await expectValid(svc, real.secret, real.tokenId);
  });

  test('ERR_BAD_REQUEST on field uid for a malformed uid', async () => {
    const uid = 'Not Valid!';
    const calls: [string, () => Promise<unknown>][] = [
      ['createAuthToken', () => svc.tokens.createAuthToken({ uid })],
      ['listAuthTokens', () => svc.tokens.listAuthTokens({ uid })],
      ['getAuthToken', () => svc.tokens.getAuthToken({ uid, authToken: `tid_${'A'.repeat(22)}` })],
      ['updateAuthToken', () => svc.tokens.updateAuthToken({ uid, authToken: `tid_${'A'.repeat(22)}`, platform: 'x' })],
      ['deleteAuthToken', () => svc.tokens.deleteAuthToken({ uid, authToken: `tid_${'A'.repeat(22)}` })],
      ['flushAuthTokens', () => svc.tokens.flushAuthTokens({ uid })],
      ['listArchivedAuthTokens', () => svc.tokens.listArchivedAuthTokens({ uid })],
    ];
    for (const [method, call] of calls) {
      const error = await grpcError(call());
      expect({ method, code: error.code, reason: error.reason, fields: error.fields }).toEqual({
        method,
        code: status.INVALID_ARGUMENT,
        reason: 'ERR_BAD_REQUEST',
        fields: ['uid'],
      });
    }
  });
});
