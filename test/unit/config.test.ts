import { expect, test } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config';

test('defaults: port 50051, loopback, embedded mongod, cap 100, 90-day archive', () => {
  const config = loadConfig({});
  expect(config).toMatchObject({
    PORT: 50051,
    HOST: '127.0.0.1',
    MONGODB_DB: 'authtoken',
    MAX_TOKENS_PER_USER: 100,
    ARCHIVE_RETENTION_DAYS: 90,
    LOG_LEVEL: 'info',
  });
  expect(config.MONGODB_URI).toBeUndefined();
});

test('empty variables count as unset', () => {
  const config = loadConfig({ MONGODB_URI: '', PORT: '' });
  expect(config.MONGODB_URI).toBeUndefined();
  expect(config.PORT).toBe(50051);
});

test('every invalid variable is named in one error', () => {
  const load = () =>
    loadConfig({ PORT: 'eighty', MONGODB_URI: 'http://x', MAX_TOKENS_PER_USER: '0', LOG_LEVEL: 'loud' });
  expect(load).toThrow(ConfigError);
  expect(load).toThrow(/PORT[\s\S]*MONGODB_URI[\s\S]*MAX_TOKENS_PER_USER[\s\S]*LOG_LEVEL/);
});

test('API keys are parsed with the rest; beyond loopback they are required', () => {
  const entry = `ops:full:${'ab'.repeat(32)}`;
  expect(loadConfig({ API_KEYS: entry, HOST: '0.0.0.0' }).apiKeys).toEqual([
    { name: 'ops', scope: 'full', hash: Buffer.from('ab'.repeat(32), 'hex') },
  ]);
  expect(loadConfig({ HOST: '127.0.0.1' }).apiKeys).toEqual([]);
  expect(() => loadConfig({ HOST: '0.0.0.0' })).toThrow(/Refusing to listen on 0\.0\.0\.0 without API keys/);
  expect(() => loadConfig({ API_KEYS: 'ops:full:nothex' })).toThrow(ConfigError);
});

test('IDLE_TIMEOUT_SECONDS: 0 (off) or at least an hour, far above the one-minute resolution of last use', () => {
  expect(loadConfig({ IDLE_TIMEOUT_SECONDS: '0' }).IDLE_TIMEOUT_SECONDS).toBe(0);
  expect(loadConfig({ IDLE_TIMEOUT_SECONDS: '3600' }).IDLE_TIMEOUT_SECONDS).toBe(3600);
  expect(() => loadConfig({ IDLE_TIMEOUT_SECONDS: '600' })).toThrow(/IDLE_TIMEOUT_SECONDS: at least 3600/);
});
