// One seeding worker process (see seedInParallel in ./seed.ts): node --import tsx seed-worker.ts <job.json>
import { readFileSync, rmSync } from 'node:fs';
import { runSeedJob, type SeedJob } from './seed';

const file = process.argv[2]!;
const job = JSON.parse(readFileSync(file, 'utf8')) as SeedJob;
rmSync(file, { force: true });
runSeedJob(job).catch((error: unknown) => {
  process.stderr.write(`seed worker failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
