// Seeds the benchmark's users directly into the `users` collection, in bulk, with the storage
// layer's own document mapping (toUserDoc/toTokenDoc) and real tokens (issueToken): the documents
// are exactly what CreateUser + CreateAuthToken would have written, minus the hours it would take.
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Collection, type Db, MongoClient } from 'mongodb';
import { issueToken } from '../../src/domain/token-format';
import { toTokenDoc, toUserDoc, USERS, type UserDoc } from '../../src/storage/documents';

export interface KeptToken {
  uid: string;
  /** The secret, for ValidateAuthToken requests. */
  secret: string;
  /** base64 SHA-256, for the raw-driver baseline. */
  hash: string;
  tokenId: string;
}

export interface SeedOptions {
  /** uid = prefix + zero-padded index. */
  prefix: string;
  from: number;
  count: number;
  tokensPerUser: number;
  /** Which token indexes of user `i` to keep the secrets of. */
  keep(i: number): number[];
  batchSize?: number;
  onProgress?(done: number): void;
}

export function uidOf(prefix: string, i: number): string {
  return `${prefix}${String(i).padStart(6, '0')}`;
}

/** Tokens created a day ago, one millisecond apart: the oldest is evicted first at the cap. */
const EPOCH = Date.now() - 24 * 60 * 60 * 1000;

function userDoc(uid: string, i: number, tokensPerUser: number, keep: Set<number>, kept: KeptToken[]): UserDoc {
  const created = new Date(EPOCH + i);
  const tokens = [];
  for (let t = 0; t < tokensPerUser; t++) {
    const { token, tokenId, tokenHash } = issueToken(uid);
    const time = new Date(EPOCH + i + t + 1);
    tokens.push(
      toTokenDoc({
        tokenId,
        tokenHash,
        uid,
        createTime: time,
        updateTime: time,
        lastUsedTime: undefined,
        platform: t % 2 ? 'ios' : 'android',
        deviceId: `device-${uid}-${String(t).padStart(2, '0')}`,
        userAgent: 'ChatApp/2.3.1 (iOS 17.4)',
        appInfo: { version: '2.3.1', build: 231 },
        expireTime: undefined,
      }),
    );
    if (keep.has(t)) kept.push({ uid, secret: token, hash: tokenHash.toString('base64'), tokenId });
  }
  return toUserDoc(
    { uid, name: `Bench user ${uid}`, metadata: { plan: 'free' }, createTime: created, updateTime: created },
    tokens,
    undefined, // no idle timeout, as the service under test runs
  );
}

/**
 * Inserts `count` users of `tokensPerUser` tokens in insertMany batches, building the next batch
 * while the previous one is being written. Returns the kept secrets and the time it took.
 */
export async function seedUsers(db: Db, options: SeedOptions): Promise<{ kept: KeptToken[]; seconds: number }> {
  const users: Collection<UserDoc> = db.collection<UserDoc>(USERS);
  const batchSize = options.batchSize ?? 1_000;
  const kept: KeptToken[] = [];
  const started = performance.now();
  let pending: Promise<unknown> | undefined;
  for (let start = options.from; start < options.from + options.count; start += batchSize) {
    const end = Math.min(start + batchSize, options.from + options.count);
    const batch: UserDoc[] = [];
    for (let i = start; i < end; i++) {
      // Yield now and then, so the previous batch keeps streaming to mongod meanwhile.
      if (i % 50 === 0) await new Promise((wake) => setImmediate(wake));
      batch.push(userDoc(uidOf(options.prefix, i), i, options.tokensPerUser, new Set(options.keep(i)), kept));
    }
    await pending;
    options.onProgress?.(start - options.from);
    pending = users.insertMany(batch, { ordered: false, writeConcern: { w: 1 } });
  }
  await pending;
  options.onProgress?.(options.count);
  return { kept, seconds: (performance.now() - started) / 1000 };
}

/** What to seed and whose secrets to keep, as plain data a worker process can be given. */
export interface SeedJob {
  uri: string;
  dbName: string;
  prefix: string;
  from: number;
  count: number;
  tokensPerUser: number;
  /** Token indexes kept for every user. */
  keepAll: number[];
  /** user index -> the one token index kept for that user. */
  keepOne: Record<number, number>;
}

function keepOf(job: SeedJob): (i: number) => number[] {
  return (i) => {
    const one = job.keepOne[i];
    return one === undefined ? job.keepAll : [...job.keepAll, one];
  };
}

/**
 * Seeds with several worker processes (one per core), each inserting its own range of users:
 * building the tokens (SHA-256, CSPRNG, BSON) is what limits seeding, not mongod.
 */
export async function seedInParallel(
  job: SeedJob,
  onProgress?: (done: number) => void,
): Promise<{ kept: KeptToken[]; seconds: number }> {
  const workers = Math.max(1, Math.min(cpus().length, Math.ceil(job.count / 1_000)));
  const started = performance.now();
  const per = Math.ceil(job.count / workers);
  const progress = new Array<number>(workers).fill(0);
  const parts = await Promise.all(
    Array.from({ length: workers }, (_, w) => {
      const from = job.from + w * per;
      const count = Math.max(0, Math.min(per, job.from + job.count - from));
      const file = join(tmpdir(), `authtoken-bench-seed-${process.pid}-${w}.json`);
      writeFileSync(file, JSON.stringify({ ...job, from, count }));
      return new Promise<KeptToken[]>((resolve, reject) => {
        const child = spawn(process.execPath, ['--import', 'tsx', join(__dirname, 'seed-worker.ts'), file], {
          stdio: ['ignore', 'pipe', 'inherit'],
        });
        let kept: KeptToken[] = [];
        let buffer = '';
        child.stdout!.on('data', (chunk: Buffer) => {
          buffer += chunk.toString();
          let newline: number;
          while ((newline = buffer.indexOf('\n')) >= 0) {
            const message = JSON.parse(buffer.slice(0, newline)) as { done?: number; kept?: KeptToken[] };
            buffer = buffer.slice(newline + 1);
            if (message.done !== undefined) {
              progress[w] = message.done;
              onProgress?.(progress.reduce((a, b) => a + b, 0));
            }
            if (message.kept) kept = message.kept;
          }
        });
        child.once('exit', (code) => (code === 0 ? resolve(kept) : reject(new Error(`seed worker ${w} exited with ${code}`))));
      });
    }),
  );
  return { kept: parts.flat(), seconds: (performance.now() - started) / 1000 };
}

/** The worker's side: seeds its range with its own client, reports progress and the kept secrets. */
export async function runSeedJob(job: SeedJob): Promise<void> {
  const client = await MongoClient.connect(job.uri, { promoteBuffers: true });
  try {
    let last = 0;
    const { kept } = await seedUsers(client.db(job.dbName), {
      prefix: job.prefix,
      from: job.from,
      count: job.count,
      tokensPerUser: job.tokensPerUser,
      keep: keepOf(job),
      onProgress: (done) => {
        if (done - last >= 1_000 || done === job.count) {
          last = done;
          process.stdout.write(`${JSON.stringify({ done })}\n`);
        }
      },
    });
    process.stdout.write(`${JSON.stringify({ kept })}\n`);
  } finally {
    await client.close();
  }
}
