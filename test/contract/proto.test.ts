// The proto contract: buf lint passes, gen/ is exactly what buf + ts-proto generate from it, and
// nothing of the released contract is broken. released-authtoken-v1.json is that contract as it
// was released (authtoken/v1 before its first additions, as a buf image: `buf build
// <descriptor of that release> --path authtoken/v1 -o released-authtoken-v1.json`).
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, expect, test } from 'vitest';

const run = promisify(execFile);
const repo = join(__dirname, '..', '..');
const buf = join(repo, 'node_modules', '.bin', 'buf');
const env = { ...process.env, PATH: `${join(repo, 'node_modules', '.bin')}:${process.env.PATH}` };
let scratch: string | undefined;

afterAll(async () => {
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => relative(dir, join(e.parentPath, e.name))).sort();
}

test('buf lint passes', async () => {
  await expect(run(buf, ['lint'], { cwd: repo, env })).resolves.toBeDefined();
});

test('committed gen/ matches a fresh generation from proto/', async () => {
  scratch = await mkdtemp(join(tmpdir(), 'authtoken-gen-'));
  await run(buf, ['generate', '-o', scratch], { cwd: repo, env });
  await run(buf, ['build', '--as-file-descriptor-set', '-o', join(scratch, 'gen', 'descriptor.binpb')], { cwd: repo, env });
  const fresh = join(scratch, 'gen');
  const committed = join(repo, 'gen');
  const files = await filesUnder(fresh);
  expect(await filesUnder(committed)).toEqual(files);
  for (const file of files) {
    const [a, b] = await Promise.all([readFile(join(committed, file)), readFile(join(fresh, file))]);
    expect(a.equals(b), `gen/${file} is stale: run npm run gen`).toBe(true);
  }
});

test('buf breaking: the contract keeps every released field, number, method and enum value', async () => {
  const released = join('test', 'contract', 'released-authtoken-v1.json');
  await expect(
    run(buf, ['breaking', 'gen/descriptor.binpb', '--against', released, '--path', 'authtoken/v1'], { cwd: repo, env }),
  ).resolves.toBeDefined();
});
