// Starts one real mongod for the test run, the same way the embedded default does.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { ensureMongodBinary } from '../../src/embedded-mongod/mongod-binary';
import { startEmbeddedMongod } from '../../src/embedded-mongod/mongod-process';
import { loadConfig } from '../../src/config';

declare module 'vitest' {
  export interface ProvidedContext {
    mongoUri: string;
  }
}

export default async function setup(project: TestProject) {
  const binary = await ensureMongodBinary(loadConfig(process.env).MONGOD_CACHE_DIR);
  const dataDir = await mkdtemp(join(tmpdir(), 'authtoken-test-mongod-'));
  const mongod = await startEmbeddedMongod({
    binary,
    dataDir,
    // failCommand fail points let the crash test stop a server between two writes.
    extraArgs: ['--setParameter', 'enableTestCommands=1'],
  });
  project.provide('mongoUri', mongod.uri);
  return async () => {
    await mongod.stop();
    await rm(dataDir, { recursive: true, force: true });
  };
}
