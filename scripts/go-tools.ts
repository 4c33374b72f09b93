// The real gRPC clients the tests (and the benchmark) drive, pinned, built with `go install` from
// the Go module proxy into a cache outside the repository. Run directly to install them all.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export const GO_TOOLS = {
  grpcurl: 'github.com/fullstorydev/grpcurl/cmd/grpcurl@v1.9.3',
  'grpc-health-probe': 'github.com/grpc-ecosystem/grpc-health-probe@v0.4.40',
  ghz: 'github.com/bojand/ghz/cmd/ghz@v0.120.0',
} as const;

export type GoTool = keyof typeof GO_TOOLS;

const BIN_DIR = join(
  process.env.MONGOD_CACHE_DIR || join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'auth-token-service'),
  'go-bin',
);

/** Path of the tool's binary, building it first if it is not cached yet. */
export async function ensureGoTool(tool: GoTool): Promise<string> {
  const version = GO_TOOLS[tool].split('@')[1]!;
  const dir = join(BIN_DIR, `${tool}-${version}`);
  const binary = join(dir, tool);
  if (!existsSync(binary)) {
    await run('go', ['install', GO_TOOLS[tool]], {
      env: { ...process.env, GOBIN: dir, CGO_ENABLED: '0' },
      maxBuffer: 16 * 1024 * 1024,
    }).catch((error: Error) => {
      throw new Error(`go install ${GO_TOOLS[tool]} failed (is Go installed?): ${error.message}`);
    });
  }
  return binary;
}

if (require.main === module) {
  const tools = (process.argv.slice(2).length ? process.argv.slice(2) : Object.keys(GO_TOOLS)) as GoTool[];
  (async () => {
    for (const tool of tools) console.log(`${tool}: ${await ensureGoTool(tool)}`);
  })().catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  });
}
