// Global setup of the reliability suite: builds the packages the child applications run on
// (packages/*/dist, with the TypeScript compiler of the workspace, so a fresh clone works) and
// starts a fresh results file.
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { portOpen, results, root } from './global-common.mjs';

export default async function globalSetup() {
  globalThis.__RELIABILITY_STARTED_AT__ = Date.now();
  // The teardown brings back only a local broker that was up when the suite began.
  globalThis.__RELIABILITY_KAFKA_WAS_UP__ = await portOpen(9092);
  globalThis.__RELIABILITY_RABBITMQ_WAS_UP__ = await portOpen(5672);
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  const projects = ['core', 'memory', 'kafka', 'rabbitmq', 'autoconfig'].map((name) => join('packages', name));
  try {
    execFileSync(process.execPath, [tsc, '-b', ...projects], { cwd: root, stdio: 'pipe', timeout: 300_000 });
  } catch (error) {
    const output = `${error.stdout ?? ''}${error.stderr ?? ''}`;
    throw new Error(`The reliability suite runs on the built packages, and tsc -b ${projects.join(' ')} failed:\n${output}`, {
      cause: error,
    });
  }
  mkdirSync(results, { recursive: true });
  rmSync(join(results, 'latest.jsonl'), { force: true });
}
