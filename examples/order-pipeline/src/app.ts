import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startMessaging, type StartMessagingOptions } from '@msgport/autoconfig';
import { createServices, formatReport, publishOrders, type PipelineReport } from './pipeline.js';

/** The example's directory (the parent of `src/` and of `dist/`), where its msgport.yaml lives. */
export const EXAMPLE_DIR = fileURLToPath(new URL('..', import.meta.url));

/** Options of {@link runApp}: where output goes, and anything `startMessaging()` takes. */
export interface AppOptions extends Omit<StartMessagingOptions, 'listeners'> {
  /** Receives each printed line. @default console.log */
  readonly print?: (line: string) => void;
  /** How long to wait for the services. @default 30000 */
  readonly timeoutMs?: number;
}

/**
 * The demo: starts messaging from configuration with the two listening services, publishes the
 * orders, waits until both services have handled everything, prints what happened, and stops.
 *
 * The config file is the example's own msgport.yaml (wherever the demo is run from), unless
 * `MSGPORT_CONFIG` names another one or `configPath` is given.
 */
export async function runApp(options: AppOptions = {}): Promise<PipelineReport> {
  const { print = console.log, timeoutMs, ...messagingOptions } = options;
  const env = options.env ?? process.env;
  const useOwnConfig = options.configPath === undefined && (env['MSGPORT_CONFIG'] ?? '') === '';
  const services = createServices();
  const messaging = await startMessaging({
    ...messagingOptions,
    ...(useOwnConfig ? { configPath: join(EXAMPLE_DIR, 'msgport.yaml') } : {}),
    listeners: [services.notifications, services.analytics],
  });
  try {
    const from = messaging.configFile === null ? 'no config file' : `config: ${relative(process.cwd(), messaging.configFile)}`;
    print(`Order pipeline on the ${messaging.provider} broker (${from})`);
    const report = await publishOrders(messaging.broker, services, timeoutMs === undefined ? {} : { timeoutMs });
    for (const line of formatReport(report)) print(line);
    return report;
  } finally {
    await messaging.stop();
    print(`Stopped the ${messaging.provider} broker.`);
  }
}
