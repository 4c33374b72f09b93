// How production runs the service: `npm run serve` (package.json), read as its environment
// assignments, node flags and entry point, so that tests, the benchmark and the Dockerfile check
// all start it the same way.
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

const REPO_ROOT = resolve(__dirname, '../..');

export interface ServeCommand {
  /** Leading NAME=value assignments, e.g. the allocator setting. */
  env: Record<string, string>;
  /** Flags between `node` and the entry point. */
  nodeFlags: string[];
  /** The compiled entry point, relative to the repository root. */
  entry: string;
}

export function serveCommand(): ServeCommand {
  const { scripts } = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
  const words = scripts.serve!.trim().split(/\s+/);
  // `exec env`: the shell npm runs the script in gives way to node, so signals reach node itself.
  if (words[0] === 'exec' && words[1] === 'env') words.splice(0, 2);
  const env: Record<string, string> = {};
  while (/^[A-Z_][A-Z0-9_]*=/.test(words[0] ?? '')) {
    const [name, ...value] = words.shift()!.split('=');
    env[name!] = value.join('=');
  }
  const [node, ...rest] = words;
  const entry = rest.pop();
  if (node !== 'node' || entry !== 'dist/src/main.js') throw new Error(`unexpected serve script: ${scripts.serve}`);
  return { env, nodeFlags: rest, entry };
}
