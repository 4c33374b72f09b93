// A mongod of a test's own, started as the embedded default starts it (src/embedded-mongod/), in a
// temporary folder. Files that set fail points with global effect, stop the server, or change its
// parameters use one; the rest share the run's mongod (global-setup.ts). The benchmark starts its
// mongod here too.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config';
import { ensureMongodBinary } from '../../src/embedded-mongod/mongod-binary';
import { type EmbeddedMongod, startEmbeddedMongod } from '../../src/embedded-mongod/mongod-process';

export interface TestMongod {
  readonly uri: string;
  readonly dataDir: string;
  /** Stops mongod; its data stays, for `restart`. */
  stop(): Promise<void>;
  /** Starts mongod again on the same port and data. */
  restart(): Promise<void>;
  /** Stops mongod if it runs, and removes its data. */
  destroy(): Promise<void>;
}

/** The cached mongod binary (fetched on first use, as by the embedded default). */
export function mongodBinary(): Promise<string> {
  // Only the cache folder: the rest of the environment may be set for something else.
  return ensureMongodBinary(loadConfig({ MONGOD_CACHE_DIR: process.env.MONGOD_CACHE_DIR }).MONGOD_CACHE_DIR);
}

/**
 * `testCommands`: enable test commands (failCommand fail points). `parameters`: further
 * `--setParameter` values. `port`: a fixed port (default: a free one).
 */
export async function startTestMongod({
  name,
  testCommands = false,
  parameters = {},
  port,
}: {
  name: string;
  testCommands?: boolean;
  parameters?: Record<string, string | number>;
  port?: number;
}): Promise<TestMongod> {
  const binary = await mongodBinary();
  const dataDir = await mkdtemp(join(tmpdir(), `authtoken-${name}-`));
  const settings = { ...(testCommands ? { enableTestCommands: 1 } : {}), ...parameters };
  const extraArgs = Object.entries(settings).flatMap(([key, value]) => ['--setParameter', `${key}=${value}`]);
  let mongod: EmbeddedMongod | undefined;
  try {
    mongod = await startEmbeddedMongod({ binary, dataDir, extraArgs, port });
  } catch (error) {
    await rm(dataDir, { recursive: true, force: true });
    throw error;
  }
  const { uri, port: fixedPort } = mongod;
  return {
    uri,
    dataDir,
    async stop() {
      await mongod?.stop();
      mongod = undefined;
    },
    async restart() {
      await mongod?.stop();
      mongod = await startEmbeddedMongod({ binary, dataDir, extraArgs, port: fixedPort });
    },
    async destroy() {
      await mongod?.stop();
      mongod = undefined;
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
