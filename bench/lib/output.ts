// What every part of the benchmark writes to: the console, with the time of day, and bench/out/
// (ignored by git), where each run leaves its data files, ghz reports and raw-driver results.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from './processes';

export const OUT_DIR = join(REPO_ROOT, 'bench/out');

export const log = (message: string) => console.log(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}`);

export function writeJson(path: string, value: unknown): void {
  writeFileSync(path, JSON.stringify(value));
}
