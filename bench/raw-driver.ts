// Baseline (2) of the benchmark: the database cost by itself. The same MongoDB operations each
// workload makes the service issue, with the raw driver, the same client options as
// src/storage/database.ts (and so the same default pool, maxPoolSize 100), the same concurrency and
// duration, timing every operation.
//
//   node --import tsx bench/raw-driver.ts --uri <mongodb://...> --db bench --data <file.json> \
//     --workload validate|create|create-transaction|list|mix --concurrency 32 --duration 15 --warmup 3
//
// --data: JSON { validate: [{ uid, hash }] (hash: base64 SHA-256), create: [uid], list: [uid] }.
// Prints one JSON line with the result on stdout.
//
// What "the same operations" means, per workload (kept in step with src/storage/mongo-token-store.ts):
//   validate  findOne({_id, tokens: {$elemMatch: {hash}}}) projecting the user fields and the one
//             token; then, if the token was last used a minute ago or more, the conditional
//             updateOne that records last use (warm-up passes over every token first, as the
//             service run does, so the measured run is the same steady state).
//   create    (user at the cap) the one atomic update that issues and moves the evicted token to
//             the user's pending list (findOneAndUpdate with src/storage/token-writes.ts's pipeline,
//             the per-uid bucket included), insertMany of the pending token into archived_tokens,
//             then updateOne $pull of it from pending.
//   create-transaction  the design before it, kept as a baseline: the below-cap conditional
//             updateOne, which matches nothing; then a transaction (snapshot read concern,
//             majority writes): findOne of the tokens, updateOne $push/$each/$sort/$slice,
//             insertMany of the evicted token into archived_tokens.
//   list      findOne({_id}) projecting the public fields of every token.
//   mix       90% validate, 9% create, 1% list, chosen at random per operation.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { type Collection, MongoClient, ObjectId } from 'mongodb';
import { bucketHasToken, issuing } from '../src/storage/token-writes';
import { issueToken } from '../src/domain/token-format';
import { ArchiveReason } from '../src/domain/model';
import {
  ARCHIVED_TOKENS,
  type ArchivedTokenDoc,
  PUBLIC_TOKEN_FIELDS,
  TOKEN_ORDER,
  USER_FIELDS,
  USERS,
  type UserDoc,
  storedOldestFirst,
  toTokenDoc,
  type TokenDoc,
  archivedDocOf,
  EXISTING_USER,
  issuedTokenText,
} from '../src/storage/documents';
import { LAST_USE_WRITE_INTERVAL_MS } from '../src/domain/rules';

/** The transaction design's issuing update: the capped push, and the token named for its ISSUED event. */
function pushed(doc: TokenDoc, max: number) {
  return { $push: { tokens: { $each: [doc], $sort: TOKEN_ORDER, $slice: -max } }, $set: { lastIssued: issuedTokenText(doc) } };
}

type Op = 'validate' | 'create' | 'create-transaction' | 'list';
type Workload = Op | 'mix';

const { values } = parseArgs({
  options: {
    uri: { type: 'string' },
    db: { type: 'string', default: 'bench' },
    data: { type: 'string' },
    workload: { type: 'string', default: 'validate' },
    concurrency: { type: 'string', default: '32' },
    duration: { type: 'string', default: '15' },
    warmup: { type: 'string', default: '3' },
    'max-tokens': { type: 'string', default: '100' },
    /** The service's UID_CREATE_LIMIT_PER_MINUTE (0: off): its bucket is part of the issuing update. */
    'uid-limit-per-minute': { type: 'string', default: '0' },
  },
});

// The service gives every operation the call's remaining time as maxTimeMS (ghz's default call
// timeout is 20 s); the same budget here.
const MAX_TIME_MS = 20_000;
const LAST_USE_WRITE_BUDGET_MS = 250;
const MIX: [Op, number][] = [
  ['validate', 0.9],
  ['create', 0.09],
  ['list', 0.01],
];

interface Data {
  validate: { uid: string; hash: string }[];
  create: string[];
  list: string[];
}

class Ops {
  private readonly users: Collection<UserDoc>;
  private readonly archive: Collection<ArchivedTokenDoc>;
  private readonly validateTokens: { uid: string; hash: Buffer }[];
  private next = { validate: 0, create: 0, list: 0 };
  private readonly createLimit: { perSecond: number; burst: number } | undefined;

  constructor(
    private readonly client: MongoClient,
    dbName: string,
    private readonly data: Data,
    private readonly max: number,
    uidLimitPerMinute: number,
  ) {
    this.createLimit = uidLimitPerMinute > 0 ? { perSecond: uidLimitPerMinute / 60, burst: uidLimitPerMinute } : undefined;
    const db = client.db(dbName);
    this.users = db.collection<UserDoc>(USERS);
    this.archive = db.collection<ArchivedTokenDoc>(ARCHIVED_TOKENS);
    this.validateTokens = data.validate.map((t) => ({ uid: t.uid, hash: Buffer.from(t.hash, 'base64') }));
  }

  get validateCount(): number {
    return this.validateTokens.length;
  }

  /** Round robin over each workload's data, as ghz does over its data array. */
  run(op: Op): Promise<void> {
    switch (op) {
      case 'validate': {
        const t = this.validateTokens[this.next.validate++ % this.validateTokens.length]!;
        return this.validate(t.uid, t.hash);
      }
      case 'create':
        return this.create(this.data.create[this.next.create++ % this.data.create.length]!);
      case 'create-transaction':
        return this.createInTransaction(this.data.create[this.next.create++ % this.data.create.length]!);
      case 'list':
        return this.list(this.data.list[this.next.list++ % this.data.list.length]!);
    }
  }

  async validate(uid: string, hash: Buffer): Promise<void> {
    const match = { hash };
    const user = await this.users.findOne(
      { _id: uid, tokens: { $elemMatch: match } },
      { projection: { ...USER_FIELDS, tokens: { $elemMatch: match } }, maxTimeMS: MAX_TIME_MS },
    );
    const token = user?.tokens[0];
    if (!token) throw new Error(`validate: token of ${uid} not found`);
    const now = new Date();
    const lastUsed = token.lastUsedTime?.getTime() ?? -Infinity;
    if (now.getTime() - lastUsed >= LAST_USE_WRITE_INTERVAL_MS) {
      const usedAfter = new Date(now.getTime() - LAST_USE_WRITE_INTERVAL_MS);
      await this.users.updateOne(
        {
          _id: uid,
          tokens: { $elemMatch: { id: token.id, $or: [{ lastUsedTime: null }, { lastUsedTime: { $lte: usedAfter } }] } },
        },
        { $set: { 'tokens.$.lastUsedTime': now } },
        // The service's best-effort budget for this write.
        { maxTimeMS: LAST_USE_WRITE_BUDGET_MS },
      );
    }
  }

  async create(uid: string): Promise<void> {
    const now = new Date();
    const { tokenId, tokenHash } = issueToken(uid);
    const token = toTokenDoc(newStored(uid, tokenId, tokenHash, now));
    const write = new ObjectId().toHexString();
    const createLimit = this.createLimit;
    const after = await this.users.findOneAndUpdate(
      { _id: uid, ...EXISTING_USER, ...(createLimit && bucketHasToken(now, createLimit)) },
      issuing({ token, max: this.max, replaceDeviceId: undefined, expiresAt: undefined, createLimit, now, write }),
      { projection: { pending: 1, tokens: { $slice: -1 } }, returnDocument: 'after', maxTimeMS: MAX_TIME_MS },
    );
    if (!after) throw new Error(`create: user ${uid} not found`);
    const pending = after.pending ?? [];
    if (pending.length === 0) return;
    await this.archive.insertMany(pending.map(archivedDocOf), { ordered: false, maxTimeMS: MAX_TIME_MS });
    await this.users.updateOne({ _id: uid }, { $pull: { pending: { _id: { $in: pending.map((p) => p._id) } } } }, { maxTimeMS: MAX_TIME_MS });
  }

  async createInTransaction(uid: string): Promise<void> {
    const max = this.max;
    const now = new Date();
    const { tokenId, tokenHash } = issueToken(uid);
    const stored = newStored(uid, tokenId, tokenHash, now);
    const belowCap = await this.users.updateOne(
      {
        _id: uid,
        [`tokens.${max - 1}`]: { $exists: false },
        tokens: { $not: { $elemMatch: { createTime: { $gte: now } } } },
      },
      pushed(toTokenDoc(stored), max),
      { maxTimeMS: MAX_TIME_MS },
    );
    if (belowCap.matchedCount === 1) return;
    await this.client.withSession((session) =>
      session.withTransaction(
        async () => {
          const user = await this.users.findOne({ _id: uid }, { session, projection: { tokens: 1, generation: 1 }, maxTimeMS: MAX_TIME_MS });
          if (!user) throw new Error(`create: user ${uid} not found`);
          const kept = user.tokens.sort(storedOldestFirst);
          const evicted = kept.slice(0, Math.max(0, kept.length + 1 - max));
          const newest = kept.at(-1)?.createTime.getTime() ?? -Infinity;
          const createTime = new Date(Math.max(now.getTime(), newest + 1));
          const doc = toTokenDoc({ ...stored, createTime, updateTime: createTime });
          await this.users.updateOne(
            { _id: uid },
            pushed(doc, max),
            { session, maxTimeMS: MAX_TIME_MS },
          );
          if (evicted.length > 0) {
            await this.archive.insertMany(
              evicted.map((t) => toArchivedDoc(user, t, ArchiveReason.EVICTED, now)),
              { session, maxTimeMS: MAX_TIME_MS },
            );
          }
        },
        { readConcern: { level: 'snapshot' }, writeConcern: { w: 'majority' }, maxCommitTimeMS: MAX_TIME_MS },
      ),
    );
  }

  async list(uid: string): Promise<void> {
    const user = await this.users.findOne({ _id: uid }, { projection: { tokens: PUBLIC_TOKEN_FIELDS }, maxTimeMS: MAX_TIME_MS });
    if (!user) throw new Error(`list: user ${uid} not found`);
  }
}

/** The transaction design's archive record of `token`, taken from `owner`. */
function toArchivedDoc(owner: Pick<UserDoc, '_id' | 'generation'>, token: TokenDoc, reason: ArchiveReason, now: Date): ArchivedTokenDoc {
  const { id, hash: _hash, ...fields } = token;
  return { _id: id, uid: owner._id, ...(owner.generation !== undefined && { generation: owner.generation }), ...fields, archiveTime: now, reason };
}

/** The token ghz's create requests ask for. */
function newStored(uid: string, tokenId: string, tokenHash: Buffer, now: Date) {
  return {
    tokenId,
    tokenHash,
    uid,
    createTime: now,
    updateTime: now,
    lastUsedTime: undefined,
    platform: 'ios',
    deviceId: '',
    userAgent: 'ChatApp/2.3.1 (iOS 17.4)',
    appInfo: undefined,
    expireTime: undefined,
  };
}

function pickMixed(): Op {
  let r = Math.random();
  for (const [op, share] of MIX) {
    if ((r -= share) < 0) return op;
  }
  return 'validate';
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

function stats(latencies: number[], seconds: number) {
  const sorted = Float64Array.from(latencies).sort();
  const sum = latencies.reduce((a, b) => a + b, 0);
  return {
    count: latencies.length,
    rps: latencies.length / seconds,
    avgMs: latencies.length ? sum / latencies.length : NaN,
    p50Ms: percentile(sorted, 50),
    p90Ms: percentile(sorted, 90),
    p99Ms: percentile(sorted, 99),
  };
}

/** `concurrency` workers issuing `pick()` operations back to back until `untilMs`. */
async function drive(
  ops: Ops,
  pick: () => Op,
  concurrency: number,
  untilMs: number,
  record?: (op: Op, ms: number) => void,
  onError?: (op: Op, error: unknown) => void,
): Promise<void> {
  const worker = async () => {
    while (performance.now() < untilMs) {
      const op = pick();
      const started = performance.now();
      try {
        await ops.run(op);
        const ended = performance.now();
        // Operations still running at the end are not counted, as ghz closes them at its deadline.
        if (ended <= untilMs) record?.(op, ended - started);
      } catch (error) {
        onError?.(op, error);
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

interface Settings {
  uri: string;
  dbName: string;
  workload: Workload;
  concurrency: number;
  durationS: number;
  warmupS: number;
  data: Data;
  maxTokens: number;
  uidLimitPerMinute: number;
}

function readSettings(): Settings {
  if (!values.uri || !values.data) throw new Error('--uri and --data are required');
  const workload = values.workload as Workload;
  if (!['validate', 'create', 'create-transaction', 'list', 'mix'].includes(workload)) throw new Error(`unknown workload ${workload}`);
  return {
    uri: values.uri,
    dbName: values.db!,
    workload,
    concurrency: Number(values.concurrency),
    durationS: Number(values.duration),
    warmupS: Number(values.warmup),
    data: JSON.parse(readFileSync(values.data, 'utf8')) as Data,
    maxTokens: Number(values['max-tokens']),
    uidLimitPerMinute: Number(values['uid-limit-per-minute']),
  };
}

/** A client with the service's options (src/storage/database.ts); maxPoolSize left at the default, 100. */
async function connect(uri: string): Promise<MongoClient> {
  const client = new MongoClient(uri, {
    promoteBuffers: true,
    writeConcern: { w: 'majority' },
    retryWrites: true,
    serverSelectionTimeoutMS: 5_000,
  });
  await client.connect();
  return client;
}

/**
 * Warm-up: for Validate, one pass over every token (any last-use writes due happen here), then
 * the timed warm-up of the same workload. Resolves with the first few errors it met.
 */
async function warmUp(ops: Ops, pick: () => Op, { workload, concurrency, warmupS }: Settings): Promise<string[]> {
  const warmupErrors: string[] = [];
  const noteWarmupError = (_op: Op, error: unknown) => {
    if (warmupErrors.length < 5) warmupErrors.push(String(error));
  };
  if (workload === 'validate' || workload === 'mix') {
    let i = 0;
    const pass = async () => {
      while (i < ops.validateCount) {
        i++;
        await ops.run('validate').catch((error: unknown) => noteWarmupError('validate', error));
      }
    };
    await Promise.all(Array.from({ length: concurrency }, pass));
  }
  await drive(ops, pick, concurrency, performance.now() + warmupS * 1000, undefined, noteWarmupError);
  return warmupErrors;
}

interface Measured {
  latencies: Record<Op, number[]>;
  all: number[];
  errors: Record<string, number>;
  errorSamples: string[];
  seconds: number;
  cpu: NodeJS.CpuUsage;
}

/** The measured run: `durationS` of the workload, every operation timed. */
async function measure(ops: Ops, pick: () => Op, { concurrency, durationS }: Settings): Promise<Measured> {
  const latencies: Record<Op, number[]> = { validate: [], create: [], 'create-transaction': [], list: [] };
  const all: number[] = [];
  const errors: Record<string, number> = {};
  const errorSamples: string[] = [];
  // Tells bench/run.ts to start its counters (database operations, mongod CPU) now.
  process.stdout.write(`${JSON.stringify({ phase: 'measure' })}\n`);
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  await drive(
    ops,
    pick,
    concurrency,
    started + durationS * 1000,
    (op, ms) => {
      latencies[op].push(ms);
      all.push(ms);
    },
    (op, error) => {
      errors[op] = (errors[op] ?? 0) + 1;
      if (errorSamples.length < 5) errorSamples.push(`${op}: ${String(error)}`);
    },
  );
  const seconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  return { latencies, all, errors, errorSamples, seconds, cpu };
}

/** The one JSON line bench/run.ts reads. */
function resultLine({ workload, concurrency }: Settings, measured: Measured, warmupErrors: string[]): string {
  const { latencies, all, errors, errorSamples, seconds, cpu } = measured;
  const perOp = Object.fromEntries(
    (Object.entries(latencies) as [Op, number[]][]).filter(([, l]) => l.length > 0).map(([op, l]) => [op, stats(l, seconds)]),
  );
  const result = {
    workload,
    concurrency,
    durationS: seconds,
    ...stats(all, seconds),
    perOp,
    errors,
    errorSamples,
    warmupErrors,
    cpuMsPerCall: all.length ? (cpu.user + cpu.system) / 1000 / all.length : NaN,
  };
  return `${JSON.stringify(result)}\n`;
}

async function main(): Promise<void> {
  const settings = readSettings();
  const { workload } = settings;
  const client = await connect(settings.uri);
  const ops = new Ops(client, settings.dbName, settings.data, settings.maxTokens, settings.uidLimitPerMinute);
  const pick: () => Op = workload === 'mix' ? pickMixed : () => workload;
  const warmupErrors = await warmUp(ops, pick, settings);
  const measured = await measure(ops, pick, settings);
  await client.close();
  process.stdout.write(resultLine(settings, measured, warmupErrors));
}

main().catch((error: unknown) => {
  process.stderr.write(`raw-driver failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
