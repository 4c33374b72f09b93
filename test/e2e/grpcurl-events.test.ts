// Watching auth token events with the real grpcurl, as README shows: the stream starts with a
// BOOKMARK, then prints each token issued and revoked as proto3 JSON while another client works.
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { ensureGoTool } from '../../scripts/go-tools';
import { startTestService, type TestService } from '../support/service';
import { createUser, issue } from './helpers';

let grpcurl: string;
let svc: TestService;

beforeAll(async () => {
  grpcurl = await ensureGoTool('grpcurl');
  svc = await startTestService();
}, 300_000);

afterAll(() => svc?.stop());

test('grpcurl watches events: a BOOKMARK, then ISSUED and REVOKED with the reason', async () => {
  const child = spawn(grpcurl, [
    '-plaintext',
    '-max-time', '20',
    '-d', '{"uids": ["alice"]}',
    `127.0.0.1:${svc.port}`,
    'authtoken.v1.AuthTokenService/WatchAuthTokenEvents',
  ]);
  let stdout = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  /** Resolves once grpcurl has printed `text`. */
  const printed = (text: string) =>
    new Promise<void>((done, fail) => {
      const check = () => {
        if (!stdout.includes(text)) return;
        child.stdout.off('data', check);
        done();
      };
      child.stdout.on('data', check);
      child.once('exit', (code) => fail(new Error(`grpcurl exited ${code} before printing ${text}: ${stdout}`)));
      check();
    });
  let token!: Awaited<ReturnType<typeof issue>>;
  try {
    await printed('AUTH_TOKEN_EVENT_TYPE_BOOKMARK');
    await createUser(svc, 'alice');
    token = await issue(svc, 'alice', { deviceId: 'iphone-15' });
    await svc.tokens.deleteAuthToken({ uid: 'alice', authToken: token.tokenId });
    await printed('ARCHIVE_REASON_DELETED');
  } finally {
    child.kill('SIGINT');
  }
  // grpcurl prints one JSON object per message.
  const messages = stdout.split(/\n(?=\{)/).map((m) => JSON.parse(m) as Record<string, string>);
  expect(messages.map((m) => [m.type, m.uid, m.tokenId, m.deviceId, m.reason]), stdout).toEqual([
    ['AUTH_TOKEN_EVENT_TYPE_BOOKMARK', undefined, undefined, undefined, undefined],
    ['AUTH_TOKEN_EVENT_TYPE_ISSUED', 'alice', token.tokenId, 'iphone-15', undefined],
    ['AUTH_TOKEN_EVENT_TYPE_REVOKED', 'alice', token.tokenId, 'iphone-15', 'ARCHIVE_REASON_DELETED'],
  ]);
  expect(messages.every((m) => /^82[0-9A-F]+$/.test(m.resumeToken!))).toBe(true);
});
