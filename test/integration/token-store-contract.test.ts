// The TokenStore contract: one set of cases, run against MongoTokenStore on the run's mongod and
// against the in-memory store the use-case unit tests use, so the fast tests stand on the same
// behaviour as the real one. Clocks are explicit: the store is given times the service would
// never choose on its own (a replica whose clock is behind, several tokens in one millisecond).
//
// The cases live in ./token-store-contract/, one module per concern; this file is their outline.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, inject } from 'vitest';
import type { TokenStore } from '../../src/domain/token-store';
import { createLogger } from '../../src/observability/logger';
import { openDatabase } from '../../src/storage/database';
import { InMemoryTokenStore } from '../support/in-memory-token-store';
import { archiveListingCases } from './token-store-contract/archive';
import { ContractContext } from './token-store-contract/context';
import { deadlineCases } from './token-store-contract/deadlines';
import { flushScopeCases } from './token-store-contract/flush-scopes';
import { revocationCases } from './token-store-contract/revocations';
import { expiryCases } from './token-store-contract/expiry';
import { IDLE_S, idleCases } from './token-store-contract/idle';
import { issuingCases } from './token-store-contract/issuing';
import { lastUseCases } from './token-store-contract/last-use';
import { tokenChangeCases, tokenListingCases, unknownTokenCases } from './token-store-contract/tokens';
import { unknownUserCases, userCases } from './token-store-contract/users';

interface OpenStore {
  store: TokenStore;
  close(): Promise<void>;
}

function describeTokenStoreContract(name: string, open: (idleMs?: number) => Promise<OpenStore>) {
  describe(name, () => {
    const ctx = new ContractContext();
    let opened: OpenStore | undefined;
    beforeAll(async () => {
      opened = await open();
      ctx.store = opened.store;
    });
    afterAll(() => opened?.close());

    describe('users', () => userCases(ctx));
    describe('an unknown user', () => unknownUserCases(ctx));
    describe('an unknown token of a known user', () => unknownTokenCases(ctx));
    describe('issueToken', () => issuingCases(ctx));
    describe('listing', () => {
      tokenListingCases(ctx);
      archiveListingCases(ctx);
    });
    describe('changing tokens', () => tokenChangeCases(ctx));
    describe('flushing some tokens', () => flushScopeCases(ctx));
    describe('revokeTokens', () => revocationCases(ctx));
    describe('expiry', () => expiryCases(ctx));
    describe('validation', () => lastUseCases(ctx));
    describe('a call that is over', () => deadlineCases(ctx));
  });
  describe(`${name} with an idle timeout`, () => {
    const ctx = new ContractContext();
    let opened: OpenStore | undefined;
    beforeAll(async () => {
      opened = await open(IDLE_S * 1000);
      ctx.store = opened.store;
    });
    afterAll(() => opened?.close());
    describe('the idle timeout', () => idleCases(ctx));
  });
}

describeTokenStoreContract('InMemoryTokenStore', async (idleMs) => ({ store: new InMemoryTokenStore(idleMs), close: async () => undefined }));

describeTokenStoreContract('MongoTokenStore', async (idleMs) => {
  const dbName = `test_contract_${randomUUID().slice(0, 8)}`;
  // The store itself, as openDatabase builds it; the validation cache in front of it has tests of its own.
  const database = openDatabase({ uri: inject('mongoUri'), dbName, archiveRetentionDays: 90, idleTimeoutMs: idleMs, validationCacheEntries: 0, log: createLogger('silent') });
  await database.prepare();
  return {
    store: database.store,
    async close() {
      await database.client.db(dbName).dropDatabase();
      await database.close();
    },
  };
});
