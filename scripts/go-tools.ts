// The real gRPC clients the tests (and the benchmark) drive, pinned, built with `go install` from
// the Go module proxy into a cache outside the repository. Run directly to install them all.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
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

function binaryPath(tool: GoTool): string {
  const version = GO_TOOLS[tool].split('@')[1]!;
  return join(BIN_DIR, `${tool}-${version}`, tool);
}

/** Path of the tool's binary, building it first if it is not cached yet. */
export async function ensureGoTool(tool: GoTool, onBuild?: (module: string) => void): Promise<string> {
  const binary = binaryPath(tool);
  if (!existsSync(binary)) {
    onBuild?.(GO_TOOLS[tool]);
    await run('go', ['install', GO_TOOLS[tool]], {
      env: { ...process.env, GOBIN: dirname(binary), CGO_ENABLED: '0' },
      maxBuffer: 16 * 1024 * 1024,
    }).catch((error: Error) => {
      throw new Error(`go install ${GO_TOOLS[tool]} failed (is Go installed?): ${error.message}`);
    });
  }
  return binary;
}

// `npm run tools [name...]`: builds what is missing, saying so (a first build takes minutes), and
// prints the PATH line that puts the tools on the command line.
if (require.main === module) {
  const tools = (process.argv.slice(2).length ? process.argv.slice(2) : Object.keys(GO_TOOLS)) as GoTool[];
  (async () => {
    for (const tool of tools) {
      const started = Date.now();
      const binary = await ensureGoTool(tool, (module) =>
        console.log(`${tool}: building ${module} with go install (the first time takes a minute or two)...`),
      );
      const built = Date.now() - started > 1_000 ? ` (built in ${Math.round((Date.now() - started) / 1000)} s)` : '';
      console.log(`${tool}: ${binary}${built}`);
    }
    console.log(`\nTo run them from your shell:\n  export PATH="${tools.map((t) => dirname(binaryPath(t))).join(':')}:$PATH"`);
  })().catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  });
}
