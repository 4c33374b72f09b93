// The hostile tests run the service from dist/ as `npm run serve` does: build it first.
import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';

export default function setup(): void {
  execFileSync('npm', ['run', '--silent', 'build'], { cwd: resolve(__dirname, '../..'), stdio: 'inherit' });
}
