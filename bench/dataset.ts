// The benchmark's data: the seeded users, the request files ghz and the raw driver read, and the
// canned responses of the no-op server.
import { cpus } from 'node:os';
import { join } from 'node:path';
import { credentials, Metadata } from '@grpc/grpc-js';
import type { Db } from 'mongodb';
import { AuthTokenServiceClient, AuthTokenServiceService } from '../gen/authtoken/v1/auth_token_service';
import { log, OUT_DIR, writeJson } from './lib/output';
import { type KeptToken, seedInParallel, uidOf } from './lib/seed';
import { DB_NAME, type Settings } from './settings';

export interface Dataset {
  validateSmall: KeptToken[];
  seedSmallSeconds: number;
  /** Users at the cap, one per Create request. */
  createUids: string[];
  /** The validate users, listed by List requests. */
  listUids: string[];
}

function validateIndexes(perUser: number, tokensPerUser: number): number[] {
  // Spread over the user's array (never the oldest: nothing evicts validate users anyway).
  return Array.from({ length: perUser }, (_, k) => Math.floor(((k + 0.5) * tokensPerUser) / perUser));
}

export async function seedSmall(uri: string, settings: Settings): Promise<Dataset> {
  const perUser = Math.max(1, Math.ceil(settings.validateSample / settings.usersSmall));
  const keepAll = validateIndexes(Math.min(perUser, settings.tokensPerUser), settings.tokensPerUser);
  const job = { uri, dbName: DB_NAME, tokensPerUser: settings.tokensPerUser, keepOne: {} };
  log(`seeding ${settings.usersSmall} users x ${settings.tokensPerUser} tokens (validate/list) and ${settings.createUsers} users at the cap (create)`);
  const small = await seedInParallel({ ...job, prefix: 'u', from: 0, count: settings.usersSmall, keepAll });
  const create = await seedInParallel({ ...job, prefix: 'c', from: 0, count: settings.createUsers, keepAll: [] });
  log(`seeded in ${(small.seconds + create.seconds).toFixed(1)} s`);
  const kept = small.kept.sort((x, y) => (x.uid < y.uid ? -1 : x.uid > y.uid ? 1 : 0));
  return {
    validateSmall: kept.slice(0, settings.validateSample),
    seedSmallSeconds: small.seconds + create.seconds,
    createUids: Array.from({ length: settings.createUsers }, (_, i) => uidOf('c', i)),
    listUids: Array.from({ length: settings.usersSmall }, (_, i) => uidOf('u', i)),
  };
}

/** Grows the validate users to usersLarge; keeps one token of `validateSample` users spread over all of them. */
export async function seedLarge(
  uri: string,
  db: Db,
  small: KeptToken[],
  settings: Settings,
): Promise<{ kept: KeptToken[]; seconds: number; tokensPerSecond: number }> {
  const from = settings.usersSmall;
  const count = settings.usersLarge - from;
  const chosen = chooseLargeSample(settings);
  const [index] = validateIndexes(1, settings.tokensPerUser);
  const keepOne: Record<number, number> = {};
  for (const i of chosen) if (i >= from) keepOne[i] = index!;
  const tokens = count * settings.tokensPerUser;
  log(`seeding ${count} more users x ${settings.tokensPerUser} tokens (${(tokens / 1e6).toFixed(1)}M tokens, ${cpus().length} worker processes) ...`);
  let lastReport = 0;
  const result = await seedInParallel(
    { uri, dbName: DB_NAME, prefix: 'u', from, count, tokensPerUser: settings.tokensPerUser, keepAll: [], keepOne },
    (done) => {
      if (done - lastReport >= 10_000 || done === count) {
        lastReport = done;
        log(`  ${done}/${count} users`);
      }
    },
  );
  // Chosen users among the first usersSmall: one of the tokens already kept for them.
  const seen = new Set<string>();
  const fromSmall = small.filter((t) => {
    if (seen.has(t.uid) || !chosen.has(Number(t.uid.slice(1)))) return false;
    seen.add(t.uid);
    return true;
  });
  const kept = [...fromSmall, ...result.kept];
  log(`seeded ${count} users in ${result.seconds.toFixed(1)} s (${(tokens / result.seconds).toFixed(0)} tokens/s); fsync ...`);
  await db.client.db('admin').command({ fsync: 1 });
  return { kept, seconds: result.seconds, tokensPerSecond: tokens / result.seconds };
}

/** The user indexes whose tokens the large Validate run presents. */
function chooseLargeSample(settings: Settings): Set<number> {
  // One user drawn at random from each of validateSample equal slices of all usersLarge users.
  const step = settings.usersLarge / settings.validateSample;
  const chosen = new Set<number>();
  for (let k = 0; k < settings.validateSample; k++) chosen.add(Math.min(settings.usersLarge - 1, Math.floor(k * step + Math.random() * step)));
  return chosen;
}

export function writeDataFiles(label: string, validate: KeptToken[], createUids: string[], listUids: string[]): Record<string, string> {
  const file = (name: string, value: unknown) => {
    const path = join(OUT_DIR, `data-${label}-${name}.json`);
    writeJson(path, value);
    return path;
  };
  return {
    ghzValidate: file('ghz-validate', validate.map((t) => ({ auth_token: t.secret }))),
    ghzCreate: file('ghz-create', createUids.map((uid) => ({ uid, platform: 'ios', user_agent: 'ChatApp/2.3.1 (iOS 17.4)' }))),
    ghzList: file('ghz-list', listUids.map((uid) => ({ uid }))),
    raw: file('raw', { validate: validate.map((t) => ({ uid: t.uid, hash: t.hash })), create: createUids, list: listUids }),
  };
}

// ---------------------------------------------------------------------------------------------
// Canned responses for the no-op server: captured from the real service, so sizes match exactly.

export async function captureResponses(port: number, metadata: Record<string, string> | undefined, validate: KeptToken, createUid: string, listUid: string) {
  const client = new AuthTokenServiceClient(`127.0.0.1:${port}`, credentials.createInsecure());
  const md = new Metadata();
  for (const [k, v] of Object.entries(metadata ?? {})) md.set(k, v);
  const call = <T>(method: string, request: object) =>
    new Promise<T>((resolve, reject) =>
      (client as unknown as Record<string, Function>)[method]!.call(client, request, md, (error: Error | null, response: T) =>
        error ? reject(error) : resolve(response),
      ),
    );
  const defaults = (m: keyof typeof AuthTokenServiceService) => AuthTokenServiceService[m].requestDeserialize(Buffer.alloc(0));
  try {
    await call('validateAuthToken', { ...defaults('validateAuthToken'), authToken: validate.secret });
    // The second validation is the steady state: last use already recorded, a read only.
    const validated = await call('validateAuthToken', { ...defaults('validateAuthToken'), authToken: validate.secret });
    const created = await call('createAuthToken', { ...defaults('createAuthToken'), uid: createUid, platform: 'ios', userAgent: 'ChatApp/2.3.1 (iOS 17.4)' });
    const listed = await call('listAuthTokens', { ...defaults('listAuthTokens'), uid: listUid });
    const encoded = {
      validateAuthToken: AuthTokenServiceService.validateAuthToken.responseSerialize(validated as never),
      createAuthToken: AuthTokenServiceService.createAuthToken.responseSerialize(created as never),
      listAuthTokens: AuthTokenServiceService.listAuthTokens.responseSerialize(listed as never),
    };
    const path = join(OUT_DIR, 'canned.json');
    writeJson(path, Object.fromEntries(Object.entries(encoded).map(([k, v]) => [k, v.toString('base64')])));
    return { path, sizes: { validate: encoded.validateAuthToken.length, create: encoded.createAuthToken.length, list: encoded.listAuthTokens.length } };
  } finally {
    client.close();
  }
}
