#!/usr/bin/env node
// Installs the workspace with the pinned pnpm when node_modules is missing or older than the
// lockfile, so `npm run demo` and `npm test` work on a fresh clone with nothing but Node and npm.
import { execFileSync } from 'node:child_process';
import { existsSync, statSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const pnpm = pkg.packageManager; // e.g. pnpm@10.34.8
const marker = join(root, 'node_modules', '.modules.yaml');
const lockfile = join(root, 'pnpm-lock.yaml');

const upToDate = existsSync(marker) && (!existsSync(lockfile) || statSync(marker).mtimeMs >= statSync(lockfile).mtimeMs);

if (!upToDate) {
  process.stderr.write(`msgport: installing dependencies with ${pnpm} …\n`);
  const args = ['-y', pnpm, 'install', '--frozen-lockfile', '--reporter=append-only'];
  execFileSync('npx', args, { cwd: root, stdio: 'inherit' });
}
