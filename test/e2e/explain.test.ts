// Proves, with the database's own explain() output, the query shape of everything the service
// sends (deploy/mongodb/ shards `users` by _id and `archived_tokens` by uid): every RPC reads or
// writes one user document through the _id index, or one uid's range of the archive; the recovery
// sweep walks a range of uids through its partial indexes. The expiry sweep's query is the one that
// names no uid, on purpose (deploy/mongodb/README.md): it reads the next_expiry index up to now,
// only the users that are due. No collection scan anywhere.
//
// The RPCs run through the real service with the profiler on (level 2: every operation). Each
// operation the service issued is read back from system.profile and re-run with `explain` at
// executionStats verbosity (explain never writes), so what is checked is the exact command the
// service sent, not a hand-written copy of it. The sweeps run in the background on their own
// timers; here the same store code runs one pass of each, on the service's database.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { type Document, MongoClient } from 'mongodb';
import { inject } from 'vitest';
import { startTestService, type TestService } from '../support/service';
import { grpcError } from '../support/grpc-status';
import { createUser, issueMany } from './helpers';
import { MongoTokenStore } from '../../src/storage/mongo-token-store';
import { callDeadline } from '../../src/domain/deadline';
import { DELETED_USERS_INDEX, EXPIRY_INDEX, PENDING_INDEX } from '../../src/storage/indexes';

let svc: TestService;
let mongo: MongoClient;
/** What ran -> the operations it issued on users and archived_tokens, as recorded by the profiler. */
const profiled = new Map<string, Document[]>();

const UID = 'explain-main';
const OTHER_UID = 'explain-other';
const GONE_UID = 'explain-gone';
const CAP = 5;
/** The sweeps' walks: they go on from this uid. */
const SWEEP_AFTER = 'explain-a';
/** The recovery sweep's walks, by the partial index each reads. */
const SWEEP_INDEXES: Record<string, string> = {
  'recovery sweep: users with tokens pending': PENDING_INDEX,
  'recovery sweep: deleted users': DELETED_USERS_INDEX,
};

/** Command fields that belong to the session, transaction or connection, which explain rejects. */
const NOT_EXPLAINABLE = [
  'lsid',
  '$clusterTime',
  '$db',
  '$readPreference',
  'txnNumber',
  'autocommit',
  'startTransaction',
  'stmtId',
  'readConcern',
  'writeConcern',
  'maxTimeMS',
  'apiVersion',
  'apiStrict',
  'apiDeprecationErrors',
];

/**
 * The change streams (validation cache, events) and the service's own recovery sweep passes (every
 * second, from cursors of their own): not what a step ran. A step's walk reads its own index from
 * SWEEP_AFTER on.
 */
function isBackground(entry: Document, step: string): boolean {
  const command = entry.originatingCommand ?? entry.command;
  const pipeline = command?.pipeline as Document[] | undefined;
  const sweepWalk = command?.hint === PENDING_INDEX || command?.hint === DELETED_USERS_INDEX;
  const stepsWalk = command?.hint === SWEEP_INDEXES[step] && command?.filter?._id?.$gt === SWEEP_AFTER;
  return pipeline?.[0]?.$changeStream !== undefined || (sweepWalk && !stepsWalk);
}

beforeAll(async () => {
  // A cap of 5, so that the user below reaches it and CreateAuthToken takes its evicting path.
  svc = await startTestService({ MAX_TOKENS_PER_USER: String(CAP) });
  mongo = await MongoClient.connect(inject('mongoUri'), { promoteBuffers: true });
  const store = new MongoTokenStore(mongo, mongo.db(svc.dbName));
  const forever = () => callDeadline(Date.now() + 10_000);
  // One user with several tokens, and neighbours: a collection scan would examine them all.
  await createUser(svc, UID);
  const tokens = await issueMany(svc, UID, CAP);
  await createUser(svc, OTHER_UID);
  const others = await issueMany(svc, OTHER_UID, 3);
  await svc.users.createUser({ uid: GONE_UID, name: 'Gone', withAuthToken: true });
  // A token that expires, for the expiry sweep to find.
  await svc.tokens.createAuthToken({ uid: OTHER_UID, ttl: { seconds: 1, nanos: 0 } });

  const names = new Set([`${svc.dbName}.users`, `${svc.dbName}.archived_tokens`]);
  const profile = svc.db.collection('system.profile');
  await svc.db.command({ profile: 2 });
  let seen = 0;
  /** Runs `step` and files every new profiled operation under its name. */
  const run = async (name: string, step: () => Promise<unknown>) => {
    await step();
    // system.profile is a capped collection: natural order is the order operations completed.
    const entries = await profile.find({}).sort({ $natural: 1 }).toArray();
    profiled.set(name, entries.slice(seen).filter((e) => names.has(e.ns) && !isBackground(e, name)));
    seen = entries.length;
  };
  try {
    // Distinct tokens per RPC, so that Validate's first-use write happens and Create at the cap
    // evicts the token Validate used (tokens[0], the oldest), not one a later RPC needs.
    await run('GetUser', () => svc.users.getUser({ uid: UID }));
    await run('CreateUser', () => svc.users.createUser({ uid: 'explain-new', name: 'New' }));
    await run('ValidateAuthToken', () => svc.tokens.validateAuthToken({ authToken: tokens[0]!.secret }));
    await run('GetAuthToken (by secret)', () => svc.tokens.getAuthToken({ uid: UID, authToken: tokens[1]!.secret }));
    await run('GetAuthToken (by token_id)', () => svc.tokens.getAuthToken({ uid: UID, authToken: tokens[1]!.tokenId }));
    await run('UpdateAuthToken', () =>
      svc.tokens.updateAuthToken({ uid: UID, authToken: tokens[2]!.tokenId, platform: 'ios', userAgent: 'App/2' }),
    );
    await run('ListAuthTokens', () => svc.tokens.listAuthTokens({ uid: UID }));
    await run('CreateAuthToken (below the cap)', () => svc.tokens.createAuthToken({ uid: OTHER_UID }));
    await run('CreateAuthToken (at the cap: evicts)', () => svc.tokens.createAuthToken({ uid: UID }));
    await run('DeleteAuthToken', () => svc.tokens.deleteAuthToken({ uid: UID, authToken: tokens[3]!.secret }));
    await run('RevokeAuthTokens', () => svc.tokens.revokeAuthTokens({ authTokens: [others[0]!.secret] }));
    await run('FlushAuthTokens (except one)', () => svc.tokens.flushAuthTokens({ uid: OTHER_UID, exceptAuthToken: others[1]!.secret }));
    await run('ListArchivedAuthTokens', () => svc.tokens.listArchivedAuthTokens({ uid: UID }));
    await run('DeleteUser', () => svc.users.deleteUser({ uid: GONE_UID }));
    // A miss: the not-found path must stay on one document too.
    await run('ValidateAuthToken (revoked token)', () => grpcError(svc.tokens.validateAuthToken({ authToken: tokens[3]!.secret })));
    await run('DeleteAuthToken (not found)', () => grpcError(svc.tokens.deleteAuthToken({ uid: UID, authToken: tokens[3]!.tokenId })));
    // The sweeps' queries, one page each, from a uid on.
    const later = new Date(Date.now() + 60_000);
    await run('expiry sweep: users with a token due', () => store.usersWithExpiredTokens(later, 100, forever()));
    await run('expiry sweep: one user', () => store.expireTokens(OTHER_UID, later, forever()));
    await run('recovery sweep: users with tokens pending', () => store.pending.sweep(later, SWEEP_AFTER));
    await run('recovery sweep: deleted users', () => store.pending.sweep(later, SWEEP_AFTER, 'deletedUsers'));
  } finally {
    await svc.db.command({ profile: 0 });
  }
});
afterAll(async () => {
  await mongo?.close();
  await svc?.stop();
});

/** The explainable command for one profiled operation. */
function explainableCommand(entry: Document): Document {
  const recorded: Document = entry.command ?? {};
  // Updates are profiled per statement ({q, u, ...}), not as the whole update command.
  const collection = String(entry.ns).split('.').slice(1).join('.');
  const command: Document =
    entry.op === 'update' && !('update' in recorded)
      ? { update: collection, updates: [recorded] }
      : entry.op === 'remove' && !('delete' in recorded)
        ? { delete: collection, deletes: [recorded] }
        : { ...recorded };
  for (const field of NOT_EXPLAINABLE) delete command[field];
  return command;
}

interface PlanSummary {
  stages: string[];
  indexes: string[];
  totalDocsExamined: number;
  totalKeysExamined: number;
  text: string;
}

/** Every stage of the winning plan (depth first), the index names used, and the execution counts. */
function summarise(explained: Document): PlanSummary {
  const stages: string[] = [];
  const indexes: string[] = [];
  const walk = (node: Document | undefined) => {
    if (!node || typeof node !== 'object') return;
    if (typeof node.stage === 'string') {
      stages.push(node.stage);
      if (typeof node.indexName === 'string') indexes.push(node.indexName);
    }
    for (const child of [node.inputStage, node.queryPlan, ...(node.inputStages ?? [])]) walk(child);
  };
  walk(explained.queryPlanner?.winningPlan);
  const stats = explained.executionStats ?? {};
  const summary = {
    stages,
    indexes,
    totalDocsExamined: Number(stats.totalDocsExamined),
    totalKeysExamined: Number(stats.totalKeysExamined),
  };
  return { ...summary, text: JSON.stringify(summary) };
}

/** Any stage anywhere in the explain output (winning and rejected plans, execution stages). */
function allStageNames(node: unknown, out: string[] = []): string[] {
  if (Array.isArray(node)) node.forEach((n) => allStageNames(n, out));
  else if (node && typeof node === 'object') {
    for (const [key, value] of Object.entries(node)) {
      if (key === 'stage' && typeof value === 'string') out.push(value);
      else allStageNames(value, out);
    }
  }
  return out;
}

/** The key bounds of every index scan of the winning plan, by index name. */
function indexBounds(explained: Document): Record<string, Document> {
  const bounds: Record<string, Document> = {};
  const walk = (node: Document | undefined) => {
    if (!node || typeof node !== 'object') return;
    if (node.stage === 'IXSCAN') bounds[node.indexName] = node.indexBounds;
    for (const child of [node.inputStage, node.queryPlan, ...(node.inputStages ?? [])]) walk(child);
  };
  walk(explained.queryPlanner?.winningPlan);
  return bounds;
}

/** One point of a bounds list, e.g. ['["explain-main", "explain-main"]']. */
function isPoint(list: unknown): boolean {
  if (!Array.isArray(list) || list.length !== 1) return false;
  const [low, high] = JSON.parse(String(list[0]).replace(/^[[(]/, '[').replace(/[\])]$/, ']')) as unknown[];
  return low === high;
}

const SWEEPS = ['expiry sweep: users with a token due', 'recovery sweep: users with tokens pending', 'recovery sweep: deleted users'];
const RPCS = [
  'GetUser',
  'CreateUser',
  'ValidateAuthToken',
  'GetAuthToken (by secret)',
  'GetAuthToken (by token_id)',
  'UpdateAuthToken',
  'ListAuthTokens',
  'CreateAuthToken (below the cap)',
  'CreateAuthToken (at the cap: evicts)',
  'DeleteAuthToken',
  'RevokeAuthTokens',
  'FlushAuthTokens (except one)',
  'ListArchivedAuthTokens',
  'DeleteUser',
  'ValidateAuthToken (revoked token)',
  'DeleteAuthToken (not found)',
  'expiry sweep: one user',
];

describe('explain(): one user document, one range of uids, or (the expiry sweep) the users due; never a collection scan', () => {
  test.each([...RPCS, ...SWEEPS])('%s', async (step) => {
    const entries = profiled.get(step) ?? [];
    expect(entries.length, `${step}: the profiler recorded no operation`).toBeGreaterThan(0);
    for (const entry of entries) {
      // An insert names its documents' shard keys (_id of a user, uid of an archived token): no query to explain.
      if (entry.op === 'insert') continue;
      const command = explainableCommand(entry);
      const what = `${step} -> ${entry.ns} ${entry.op} ${JSON.stringify(command)}`;
      const explained = await svc.db.command({ explain: command, verbosity: 'executionStats' });
      const plan = summarise(explained);
      const bounds = indexBounds(explained);
      const message = `${what}\nplan: ${plan.text}\nbounds: ${JSON.stringify(bounds)}`;
      expect(allStageNames(explained), message).not.toContain('COLLSCAN');
      if (entry.profiled !== undefined && String(entry.planSummary ?? '').includes('COLLSCAN')) throw new Error(message);

      if (String(entry.ns).endsWith('.archived_tokens')) {
        // The archive: one uid's range of its uid index.
        expect(isPoint(bounds['uid_archive_time']?.uid), message).toBe(true);
      } else if (step.startsWith('recovery sweep')) {
        // A walk: uids after the cursor, through the partial index of the users it looks for.
        expect(bounds[SWEEP_INDEXES[step]!]?._id, message).toEqual([`("${SWEEP_AFTER}", {})`]);
      } else if (step.startsWith('expiry sweep: users')) {
        // The users due: the next_expiry index up to now, nothing later (every shard reads its own).
        const [range] = (bounds[EXPIRY_INDEX]?.nextExpiry ?? []) as string[];
        expect(range, message).toMatch(/^\[(new Date\(-9223372036854775808\)|true), new Date\(\d+\)\]$/);
      } else {
        // One user document, by _id: IDHACK for a bare {_id}, else a point of the _id index.
        expect(plan.stages.includes('IDHACK') || isPoint(bounds['_id_']?._id), message).toBe(true);
        expect(plan.totalDocsExamined, message).toBeLessThanOrEqual(1);
        expect(plan.totalKeysExamined, message).toBeLessThanOrEqual(1);
        if (typeof entry.docsExamined === 'number') expect(entry.docsExamined, `${message}\nprofiled docsExamined`).toBeLessThanOrEqual(1);
      }
      if (entry.planSummary !== undefined) expect(String(entry.planSummary), message).not.toContain('COLLSCAN');
    }
  });

  test('the profile shows the expected operations, and no transaction', () => {
    const ops = Object.fromEntries([...profiled].map(([step, entries]) => [step, entries.map((e) => `${e.op} ${String(e.ns).split('.').pop()}`)]));
    // Validate: the read, then (first use) the last-use write.
    expect(ops['ValidateAuthToken']).toEqual(['query users', 'update users']);
    expect(ops['ListAuthTokens']).toEqual(['query users']);
    // Every create is one update (a findAndModify); one that evicts then copies to the archive
    // and removes what it copied from the document.
    expect(ops['CreateAuthToken (below the cap)']).toEqual(['command users']);
    expect(ops['CreateAuthToken (at the cap: evicts)']).toEqual(['command users', 'insert archived_tokens', 'update users']);
    expect(ops['DeleteAuthToken']).toEqual(['command users', 'insert archived_tokens', 'update users']);
    expect(ops['DeleteUser']).toEqual(['command users', 'insert archived_tokens', 'remove users']);
    for (const entries of profiled.values()) {
      for (const entry of entries) expect(entry.command?.startTransaction ?? entry.command?.autocommit, JSON.stringify(entry.command)).toBeUndefined();
    }
  });
});
