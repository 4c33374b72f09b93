// The benchmark (`npm run bench`; not part of the tests). See bench/README.md.
//
// The real service (node dist/src/main.js, its own process, LOG_LEVEL=warn) on a real mongod 6.0.5
// single-node replica set started here in a temporary folder, loaded by ghz; two baselines measured
// in the same run so that the machine's noise cancels out of the ratios:
//   no-op   bench/noop-server.ts: grpc-js with the same transport options and same-size responses;
//   raw     bench/raw-driver.ts: the same MongoDB operations with the raw driver, same pool.
//
// This file wires the parts: settings.ts (the command line), dataset.ts (seeding, data files),
// workloads.ts (the measured runs), soak.ts, report.ts (ratios, verdicts, latest.{json,md,png}).
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Db, MongoClient } from 'mongodb';
import { ensureGoTool } from '../scripts/go-tools';
import { generateApiKey, keyEntry } from '../src/domain/api-keys';
import { startTestMongod } from '../test/support/mongod';
import { memoryOf } from '../test/support/process-memory';
import { captureResponses, seedSmall, writeDataFiles } from './dataset';
import { measureFanout } from './fanout';
import { renderFlamegraph } from './flamegraph';
import { round } from './lib/numbers';
import { log, OUT_DIR } from './lib/output';
import { type Child, REPO_ROOT, RssSampler, type ServiceOptions, startNoopServer, startService } from './lib/processes';
import { formatSummary, summarise } from './profile-summary';
import { loadAverage, type Results, ratiosOf, runMeta, writeReport } from './report';
import { DB_NAME, type ParsedArgs, parseSettings, type ResultsPlacement, type Settings } from './settings';
import { soak } from './soak';
import { type BenchContext, byTarget, measureDataSize, measureWorkload, singleFigures, type SingleFigures } from './workloads';

const PROFILE_DIR = join(OUT_DIR, 'profile');

/** The benchmark's own mongod, in a temporary folder. */
interface Database {
  uri: string;
  db: Db;
  admin: Db;
  mongodPid: number;
  version: string;
  stop(): Promise<void>;
}

/** The processes under test, stopped at the end of the run whatever happens. */
interface Targets {
  service?: Child & { metricsPort: number };
  noop?: Child;
  sampler?: RssSampler;
}

async function main(settings: Settings, placement: ResultsPlacement): Promise<void> {
  mkdirSync(OUT_DIR, { recursive: true });
  mkdirSync(placement.dir, { recursive: true });
  if (!settings.serviceEntry && !existsSync(join(REPO_ROOT, 'dist/src/main.js'))) throw new Error('dist/src/main.js is missing: run `npm run build` first (`npm run bench` does)');
  const loadavgStart = loadAverage();
  log(`settings: ${JSON.stringify(settings)}; results -> ${placement.dir}`);

  const ghz = await ensureGoTool('ghz');
  const database = await startDatabase();
  const targets: Targets = {};
  const results: Results = { meta: {}, workloads: {} };
  try {
    await measure(settings, ghz, database, targets, results);
    results.meta = runMeta(settings, { mongodVersion: database.version, loadavgStart, official: placement.official });
  } finally {
    targets.sampler?.stop();
    await targets.noop?.stop();
    await targets.service?.stop();
    await database.stop();
  }
  if (settings.cpuProf) summariseProfile(settings.workloads);
  await writeReport(results, placement, settings.logLevel);
}

async function startDatabase(): Promise<Database> {
  const mongod = await startTestMongod({ name: 'bench-mongod' });
  const client = await MongoClient.connect(mongod.uri, { promoteBuffers: true });
  const admin = client.db('admin');
  const status = await admin.command({ serverStatus: 1 });
  const mongodPid = Number(status.pid);
  log(`mongod ${status.version} pid ${mongodPid}, data in ${mongod.dataDir}`);
  return {
    uri: mongod.uri,
    db: client.db(DB_NAME),
    admin,
    mongodPid,
    version: status.version,
    async stop() {
      await client.close();
      await mongod.destroy();
    },
  };
}

/** Seeds, starts the service and the no-op server, and runs what the settings ask for into `results`. */
async function measure(settings: Settings, ghz: string, database: Database, targets: Targets, results: Results): Promise<void> {
  const dataset = await seedSmall(database.uri, settings);
  const files = writeDataFiles('small', dataset.validateSmall, dataset.createUids, dataset.listUids);
  const { serviceOptions, metadata } = serviceSetup(settings, database.uri);
  const service = (targets.service = await startService(serviceOptions));
  const sampler = (targets.sampler = new RssSampler(service.pid));
  log(`service pid ${service.pid} on port ${service.port}`);

  const canned = await captureResponses(service.port, metadata, dataset.validateSmall[0]!, dataset.createUids[0]!, dataset.listUids[0]!);
  results.messageSizes = canned.sizes;
  const noop = (targets.noop = await startNoopServer(canned.path));
  log(`no-op server pid ${noop.pid} on port ${noop.port}; response sizes ${JSON.stringify(canned.sizes)}`);

  const ctx: BenchContext = { settings, ghz, admin: database.admin, mongodPid: database.mongodPid, service, noop, mongoUri: database.uri, files, metadata };
  const single: SingleFigures = {};
  for (const w of settings.workloads) {
    const figures = await measureWorkload(ctx, noop, w, single);
    results.workloads[w] = { ...figures, ratios: ratiosOf(figures) };
  }
  if (settings.fanout) results.fanout = await measureFanout(ctx);
  if (settings.dataSize) results.dataSize = await measureDataSize(ctx, serviceOptions, dataset, database.db);
  if (settings.soak) {
    const s = await singleFigures(ctx, single, false);
    results.soak = await soak(ctx, byTarget(s, 'service'));
  }
  results.rss = serviceMemory(service.pid, sampler);
}

/** How the service under test is started, and the metadata every call carries. */
function serviceSetup(settings: Settings, mongoUri: string): { serviceOptions: ServiceOptions; metadata?: Record<string, string> } {
  if (settings.cpuProf) mkdirSync(PROFILE_DIR, { recursive: true });
  // Production runs with API keys: one key of full scope, presented on every call.
  const apiKey = settings.apiKey ? generateApiKey() : undefined;
  const serviceOptions = {
    mongoUri,
    dbName: DB_NAME,
    logLevel: settings.logLevel,
    maxTokensPerUser: settings.tokensPerUser,
    apiKeyEntry: apiKey ? keyEntry('bench', 'full', apiKey) : undefined,
    cpuProfDir: settings.cpuProf ? PROFILE_DIR : undefined,
    entry: settings.serviceEntry,
    nodeOptions: settings.serviceNodeOptions?.split(/\s+/).filter(Boolean),
  };
  return { serviceOptions, metadata: apiKey ? { authorization: `Bearer ${apiKey}` } : undefined };
}

function serviceMemory(pid: number, sampler: RssSampler): Results['rss'] {
  const memory = memoryOf(pid);
  return {
    serviceRssAtEndMb: round(memory?.rssMb ?? NaN, 1),
    servicePeakMb: round(memory?.peakMb ?? NaN, 1),
    anonAtEndMb: round(memory?.anonMb ?? NaN, 1),
    fileAtEndMb: round(memory?.fileMb ?? NaN, 1),
    samples: sampler.samples.map((s) => ({ t: round(s.t, 0)!, rssMb: round(s.rssMb, 1)! })),
  };
}

/** The newest --cpu-prof profile, summarised: folded stacks, a flame graph and the text summary. */
function summariseProfile(workloads: readonly string[]): void {
  const newest = readdirSync(PROFILE_DIR).filter((f) => f.endsWith('.cpuprofile')).sort().at(-1);
  if (!newest) return;
  const summary = summarise(JSON.parse(readFileSync(join(PROFILE_DIR, newest), 'utf8')), 30);
  const folded = join(PROFILE_DIR, newest.replace(/\.cpuprofile$/, '.folded'));
  writeFileSync(folded, summary.folded);
  const svg = folded.replace(/\.folded$/, '.svg');
  writeFileSync(svg, renderFlamegraph(summary.folded, `auth-token-service --cpu-prof, workloads: ${workloads.join(', ')}`));
  const text = formatSummary(summary);
  writeFileSync(join(PROFILE_DIR, newest.replace(/\.cpuprofile$/, '.summary.txt')), `${text}\n`);
  console.log(`\n${text}\n\nprofile: ${join(PROFILE_DIR, newest)}\nflame graph: ${svg} (folded stacks: ${folded})`);
}

function parseOrExit(argv: string[]): Exclude<ParsedArgs, { help: true }> {
  let parsed: ParsedArgs;
  try {
    parsed = parseSettings(argv);
  } catch (error) {
    console.error(`${error instanceof Error ? error.message : String(error)}\n(npm run bench -- --help lists the options)`);
    process.exit(1);
  }
  if (parsed.help) {
    console.log(readFileSync(join(__dirname, 'README.md'), 'utf8'));
    process.exit(0);
  }
  return parsed;
}

const { settings, placement } = parseOrExit(process.argv.slice(2));
main(settings, placement).catch((error: unknown) => {
  console.error(error instanceof Error ? error.stack : error);
  process.exit(1);
});
