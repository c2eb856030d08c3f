import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { waitFor } from '@msgport/core';
import { RABBITMQ_URL, rabbitmqApp, requireBroker } from './broker.js';
import type { SharedBroker } from './shared-broker.js';

const run = promisify(execFile);
const DEFAULT_URL = 'amqp://guest:guest@127.0.0.1:5672/';

/**
 * The conformance suite's broker-restart hook: `rabbitmqctl stop_app` and `start_app` for the test
 * broker on 127.0.0.1:5672, or the shell command in MSGPORT_RABBITMQ_RESTART_COMMAND (another
 * broker, e.g. a node of scripts/rabbitmq-cluster.sh). A broker at another URL without that
 * command is an error, not a skipped case.
 */
export function restartHookFromEnv(shared: SharedBroker): () => Promise<void> {
  const command = process.env['MSGPORT_RABBITMQ_RESTART_COMMAND'];
  if ((command === undefined || command === '') && RABBITMQ_URL !== DEFAULT_URL) {
    throw new Error(
      `MSGPORT_RABBITMQ_URL points at another broker; set MSGPORT_RABBITMQ_RESTART_COMMAND to a shell command that restarts it ` +
        '(the conformance suite restarts the broker under test).',
    );
  }
  return () =>
    shared.exclusively(async () => {
      if (command !== undefined && command !== '') {
        await run('bash', ['-c', command], { timeout: 180_000 });
      } else {
        await rabbitmqApp('stop_app');
        await rabbitmqApp('start_app');
      }
      await waitFor(
        () =>
          requireBroker().then(
            () => true,
            () => false,
          ),
        {
          timeoutMs: 60_000,
          intervalMs: 200,
          description: 'RabbitMQ to accept connections again after the restart',
        },
      );
    });
}
