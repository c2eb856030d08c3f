/**
 * Runs one variant of one scenario once, in its own process, and prints its measurement (with the
 * process's peak RSS) as the last stdout line. Started by run.ts; not meant to be run by hand.
 */
import { findScenario } from './scenarios/index.js';
import type { Measurement, VariantSpec } from './lib/types.js';
import { RESULT_MARKER } from './lib/protocol.js';

interface Job {
  readonly scenario: string;
  readonly variant: VariantSpec;
  readonly context: Record<string, unknown>;
  readonly run: number;
}

async function main(): Promise<void> {
  const job = JSON.parse(Buffer.from(process.argv[2] ?? '', 'base64').toString('utf8')) as Job;
  const scenario = findScenario(job.scenario);
  if (scenario === undefined) throw new Error(`unknown scenario ${job.scenario}`);
  const log = (line: string): void => void process.stderr.write(`    [${job.variant.id}] ${line}\n`);
  const measurement = await scenario.run({ variant: job.variant, context: job.context, run: job.run, log });
  const result: Measurement = { ...measurement, maxRssKiB: process.resourceUsage().maxRSS };
  process.stdout.write(`\n${RESULT_MARKER}${JSON.stringify(result)}\n`);
}

main().then(
  // Clients may leave sockets or timers behind; the measurement is out, so leave at once.
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
