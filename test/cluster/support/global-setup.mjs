// Global setup of the cluster scenarios: builds the packages the child applications run on (as the
// reliability suite does) and starts a fresh results file (unless MSGPORT_CLUSTER_KEEP_ROWS=1).
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { root } from '../../reliability/support/global-common.mjs';

export default async function globalSetup() {
  globalThis.__CLUSTER_STARTED_AT__ = Date.now();
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  const projects = ['core', 'kafka', 'rabbitmq'].map((name) => join('packages', name));
  try {
    execFileSync(process.execPath, [tsc, '-b', ...projects], { cwd: root, stdio: 'pipe', timeout: 300_000 });
  } catch (error) {
    const output = `${error.stdout ?? ''}${error.stderr ?? ''}`;
    throw new Error(`The cluster scenarios run on the built packages, and tsc -b ${projects.join(' ')} failed:\n${output}`, {
      cause: error,
    });
  }
  const results = join(root, 'test', 'cluster', 'results');
  mkdirSync(results, { recursive: true });
  // scripts/cluster.sh runs the Kafka and the RabbitMQ scenarios one after the other: the second
  // run keeps the first one's rows (MSGPORT_CLUSTER_KEEP_ROWS=1), so latest.md has both.
  if (process.env.MSGPORT_CLUSTER_KEEP_ROWS !== '1') rmSync(join(results, 'latest.jsonl'), { force: true });
}
