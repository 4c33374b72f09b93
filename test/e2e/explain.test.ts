// Proves, with the database's own explain() output, that every per-token RPC reads or writes one
// user document through the _id index: no collection scan, no scatter across users.
//
// The RPCs run through the real service with the profiler on (level 2: every operation). Each
// operation the service issued on `users` is read back from system.profile and re-run with
// `explain` at executionStats verbosity (explain never writes), so what is checked is the exact
// command the service sent, not a hand-written copy of it.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Document } from 'mongodb';
import { startTestService, type TestService } from '../support/service';
import { grpcError } from '../support/grpc-status';
import { createUser, issueMany } from './helpers';

let svc: TestService;
/** RPC name -> the operations it issued on `users`, as recorded by the profiler. */
const profiled = new Map<string, Document[]>();

const UID = 'explain-main';
const OTHER_UID = 'explain-other';
const CAP = 5;

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

/** The validation cache's change stream on `users` (its aggregate and getMores), not an RPC's work. */
function isChangeStream(entry: Document): boolean {
  const pipeline = (entry.originatingCommand ?? entry.command)?.pipeline as Document[] | undefined;
  return pipeline?.[0]?.$changeStream !== undefined;
}

beforeAll(async () => {
  // A cap of 5, so that the user below reaches it and CreateAuthToken takes its evicting path.
  svc = await startTestService({ MAX_TOKENS_PER_USER: String(CAP) });
  // One user with several tokens, and a neighbour: a collection scan would examine both documents.
  await createUser(svc, UID);
  const tokens = await issueMany(svc, UID, CAP);
  await createUser(svc, OTHER_UID);
  await issueMany(svc, OTHER_UID, 2);

  const users = `${svc.dbName}.users`;
  const profile = svc.db.collection('system.profile');
  await svc.db.command({ profile: 2 });
  let seen = 0;
  /** Runs `rpc` and files every new profiled operation on `users` under its name. */
  const run = async (name: string, rpc: () => Promise<unknown>) => {
    await rpc();
    // system.profile is a capped collection: natural order is the order operations completed.
    const entries = await profile.find({}).sort({ $natural: 1 }).toArray();
    profiled.set(name, entries.slice(seen).filter((e) => e.ns === users && !isChangeStream(e)));
    seen = entries.length;
  };
  try {
    // Distinct tokens per RPC, so that Validate's first-use write happens and Create at the cap
    // evicts the token Validate used (tokens[0], the oldest), not one a later RPC needs.
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
    // A miss: the not-found path must stay on one document too.
    await run('ValidateAuthToken (revoked token)', () => grpcError(svc.tokens.validateAuthToken({ authToken: tokens[3]!.secret })));
  } finally {
    await svc.db.command({ profile: 0 });
  }
});
afterAll(() => svc?.stop());

/** The explainable command for one profiled operation. */
function explainableCommand(entry: Document): Document {
  const recorded: Document = entry.command ?? {};
  // Updates are profiled per statement ({q, u, ...}), not as the whole update command.
  const command: Document =
    entry.op === 'update' && !('update' in recorded)
      ? { update: 'users', updates: [recorded] }
      : entry.op === 'remove' && !('delete' in recorded)
        ? { delete: 'users', deletes: [recorded] }
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

describe('explain(): every per-token RPC uses the _id index and examines one user document', () => {
  const rpcs = [
    'ValidateAuthToken',
    'GetAuthToken (by secret)',
    'GetAuthToken (by token_id)',
    'UpdateAuthToken',
    'ListAuthTokens',
    'CreateAuthToken (below the cap)',
    'CreateAuthToken (at the cap: evicts)',
    'DeleteAuthToken',
    'ValidateAuthToken (revoked token)',
  ];

  test.each(rpcs)('%s', async (rpc) => {
    const entries = profiled.get(rpc) ?? [];
    expect(entries.length, `${rpc}: the profiler recorded no operation on users`).toBeGreaterThan(0);
    for (const entry of entries) {
      const command = explainableCommand(entry);
      const what = `${rpc} -> ${entry.op} ${JSON.stringify(command)}`;
      const explained = await svc.db.command({ explain: command, verbosity: 'executionStats' });
      const plan = summarise(explained);
      const message = `${what}\nplan: ${plan.text}`;

      expect(allStageNames(explained), message).not.toContain('COLLSCAN');
      // IDHACK for a bare {_id}; IXSCAN on _id_ (under FETCH/UPDATE) when the filter adds $elemMatch.
      const usesId = plan.stages.includes('IDHACK') || plan.indexes.includes('_id_');
      expect(usesId, message).toBe(true);
      expect(plan.totalDocsExamined, message).toBeLessThanOrEqual(1);
      expect(plan.totalKeysExamined, message).toBeLessThanOrEqual(1);
      // The profiler agrees for the operation as it really ran.
      if (typeof entry.docsExamined === 'number') expect(entry.docsExamined, `${message}\nprofiled docsExamined`).toBeLessThanOrEqual(1);
      if (entry.planSummary !== undefined) expect(String(entry.planSummary), message).not.toContain('COLLSCAN');
    }
  });

  test('the profile shows the expected operations per RPC', () => {
    const ops = Object.fromEntries([...profiled].map(([rpc, entries]) => [rpc, entries.map((e) => e.op)]));
    // Validate: the read, then (first use) the last-use write.
    expect(ops['ValidateAuthToken']).toEqual(['query', 'update']);
    expect(ops['GetAuthToken (by secret)']).toEqual(['query']);
    expect(ops['GetAuthToken (by token_id)']).toEqual(['query']);
    expect(ops['ListAuthTokens']).toEqual(['query']);
    expect(ops['UpdateAuthToken']).toEqual(['command']);
    expect(ops['DeleteAuthToken']).toEqual(['command']);
    // Below the cap: one conditional update. At the cap: that update matches nothing, then the
    // transaction reads the document and pushes with $slice.
    expect(ops['CreateAuthToken (below the cap)']).toEqual(['update']);
    expect(ops['CreateAuthToken (at the cap: evicts)']).toEqual(['update', 'query', 'update']);
  });
});
