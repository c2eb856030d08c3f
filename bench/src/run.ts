/**
 * msgport benchmarks: `node bench/dist/run.js [--scenario a,b] [--runs N] [--quick]`.
 *
 * Runs every selected scenario `runs` times; in each run every variant (msgport and its baselines)
 * runs once, in a fresh child process, in an order rotated from run to run, so that each ratio is
 * taken between measurements of the same run. Prints a table and writes results/latest.json,
 * results/latest.md and results/latest.svg.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { RESULT_MARKER } from './lib/protocol.js';
import { markdownReport, svgChart, textReport } from './lib/report.js';
import {
  summarizeAbsolute,
  summarizeComparison,
  summarizeVariant,
  type BenchResults,
  type MachineInfo,
  type RunOutcome,
  type ScenarioResult,
} from './lib/results.js';
import type { Measurement, Scenario, VariantSpec } from './lib/types.js';
import { SCENARIOS } from './scenarios/index.js';
import { REPO_ROOT, rabbitVersion } from './lib/env.js';
import { node24Binary } from './lib/node24.js';

const here = dirname(fileURLToPath(import.meta.url));
const CHILD = join(here, 'child.js');
const RESULTS_DIR = resolve(here, '..', 'results');
const CHILD_TIMEOUT_MS = 240_000;
/** How long a scenario waits for its broker (other suites on this machine restart them). */
const BROKER_WAIT_MS = 90_000;

interface Args {
  scenarios: string[];
  runs: number | undefined;
  quick: boolean;
  verbose: boolean;
  profileDir: string | undefined;
  out: string;
  node24: boolean;
}

const USAGE = `Usage: node bench/dist/run.js [options]   (or: npm run bench -- [options])

  --scenario <names>  comma-separated scenarios to run (default: all): ${SCENARIOS.map((s) => s.name).join(', ')}
  --runs <N>          runs per scenario (default: 7, memory 5, latency 3; with --quick: 2, memory 3)
  --quick             smaller workloads, fewer runs, no Java ceilings: a smoke run in under 2 minutes
  --verbose           show the children's log lines
  --cpu-prof <dir>    run every child under node --cpu-prof, writing profiles to <dir>
  --out <dir>         where to write latest.{json,md,svg} (default bench/results)
  --node24            run every variant's child process on Node 24 (tools/node24, installed on first
                      use), for figures side by side with the default run (use with --out)
  --list              list the scenarios and exit
  --help              this text`;

function parseArgs(argv: string[]): Args {
  const args: Args = {
    scenarios: [],
    runs: undefined,
    quick: false,
    verbose: false,
    profileDir: undefined,
    out: RESULTS_DIR,
    node24: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const [flag, inline] = arg.includes('=')
      ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)]
      : [arg, undefined];
    const value = (): string => {
      const v = inline ?? argv[++i];
      if (v === undefined) fail(`${flag} needs a value`);
      return v;
    };
    switch (flag) {
      case '--scenario':
      case '--scenarios':
        args.scenarios.push(
          ...value()
            .split(',')
            .map((s) => s.trim())
            .filter(Boolean),
        );
        break;
      case '--runs': {
        const n = Number(value());
        if (!Number.isInteger(n) || n < 1) fail('--runs must be an integer >= 1');
        args.runs = n;
        break;
      }
      case '--quick':
        args.quick = true;
        break;
      case '--verbose':
        args.verbose = true;
        break;
      case '--cpu-prof':
        args.profileDir = resolve(value());
        break;
      case '--out':
        args.out = resolve(value());
        break;
      case '--node24':
        args.node24 = true;
        break;
      case '--list':
        for (const s of SCENARIOS) console.log(`${s.name.padEnd(18)} ${s.title}${s.optIn === true ? ' (only when named)' : ''}`);
        process.exit(0);
        break;
      case '--help':
      case '-h':
        console.log(USAGE);
        process.exit(0);
        break;
      default:
        fail(`unknown argument ${arg}`);
    }
  }
  for (const name of args.scenarios) {
    if (name !== 'all' && !SCENARIOS.some((s) => s.name === name)) fail(`unknown scenario "${name}"`);
  }
  return args;
}

function fail(message: string): never {
  console.error(`bench: ${message}\n\n${USAGE}`);
  process.exit(2);
}

async function machineInfo(args: Args): Promise<MachineInfo> {
  let cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  try {
    const line = readFileSync('/proc/cpuinfo', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('model name'));
    if (line !== undefined) cpu = line.slice(line.indexOf(':') + 1).trim();
  } catch {
    // not Linux: keep os.cpus()
  }
  let kafka: string | undefined;
  try {
    const { stdout } = await promisify(execFile)('bash', [join(REPO_ROOT, 'scripts', 'kafka.sh'), 'status'], { timeout: 20_000 });
    kafka = /Kafka (\S+) running/.exec(stdout)?.[1];
  } catch {
    kafka = undefined;
  }
  const rabbitmq = await rabbitVersion();
  return {
    cpu,
    cores: os.cpus().length,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    node: args.node24 ? `${await childNodeVersion()} (every child: --node24)` : process.version,
    platform: `${os.type()} ${os.release()}`,
    ...(kafka === undefined ? {} : { kafka }),
    ...(rabbitmq === undefined ? {} : { rabbitmq }),
  };
}

async function childNodeVersion(): Promise<string> {
  const { stdout } = await promisify(execFile)(await node24Binary(), ['-v']);
  return stdout.trim();
}

/** Runs one variant once in a fresh Node process and returns what it measured. */
function runChild(
  args: Args,
  scenario: Scenario,
  variant: VariantSpec,
  context: Record<string, unknown>,
  run: number,
): Promise<RunOutcome> {
  const job = Buffer.from(JSON.stringify({ scenario: scenario.name, variant, context, run })).toString('base64');
  const nodeArgs =
    args.profileDir === undefined
      ? []
      : ['--cpu-prof', `--cpu-prof-dir=${args.profileDir}`, `--cpu-prof-name=${scenario.name}.${variant.id}.r${run}.cpuprofile`];
  const node = args.node24 || variant.node === '24' ? node24Binary() : Promise.resolve(process.execPath);
  return node.then(
    (execPath) => spawnChild(args, execPath, [...nodeArgs, CHILD, job]),
    (error: unknown) => ({ error: `cannot run Node 24: ${error instanceof Error ? error.message : String(error)}` }),
  );
}

function spawnChild(args: Args, execPath: string, childArgs: string[]): Promise<RunOutcome> {
  return new Promise((resolvePromise) => {
    const child = spawn(execPath, childArgs, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, KAFKAJS_NO_PARTITIONER_WARNING: '1' },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => {
      const text = chunk.toString();
      stderr += text;
      if (args.verbose) process.stderr.write(text);
    });
    const timer = setTimeout(() => {
      stderr += `\n(killed after ${CHILD_TIMEOUT_MS} ms)`;
      child.kill('SIGKILL');
    }, CHILD_TIMEOUT_MS);
    child.on('close', (code) => {
      clearTimeout(timer);
      const line = stdout.split('\n').find((l) => l.startsWith(RESULT_MARKER));
      if (code === 0 && line !== undefined) {
        resolvePromise(JSON.parse(line.slice(RESULT_MARKER.length)) as Measurement);
        return;
      }
      const tail = stderr.trim().split('\n').slice(-6).join(' | ');
      resolvePromise({ error: `exit ${String(code)}: ${tail || 'no output'}` });
    });
  });
}

function describeOutcome(outcome: RunOutcome): string {
  if ('error' in outcome) return `FAILED ${outcome.error.slice(0, 400)}`;
  const rss = outcome.maxRssKiB === undefined ? '' : `, ${(outcome.maxRssKiB / 1024).toFixed(0)} MiB`;
  if (outcome.p50Ms !== undefined)
    return `p50 ${outcome.p50Ms.toFixed(2)} ms, p99 ${outcome.p99Ms?.toFixed(2)} ms (${outcome.messages} msgs)${rss}`;
  return `${Math.round(outcome.rate).toLocaleString('en-US')} msg/s (${outcome.messages} in ${outcome.seconds.toFixed(2)} s)${rss}`;
}

/** Waits (up to {@link BROKER_WAIT_MS}) until `scenario` (or `variant`) can run; the last reason, or null. */
async function waitUntilAvailable(
  scenario: Scenario,
  log: (line: string) => void,
  variant?: VariantSpec,
): Promise<string | null> {
  const deadline = Date.now() + BROKER_WAIT_MS;
  let reason = await scenario.unavailable(variant);
  if (reason !== null) log(`waiting up to ${BROKER_WAIT_MS / 1000} s: ${reason}`);
  while (reason !== null && Date.now() < deadline) {
    await new Promise((resolveWait) => setTimeout(resolveWait, 2_000));
    reason = await scenario.unavailable(variant);
  }
  return reason;
}

async function runScenario(args: Args, scenario: Scenario, prefix: string): Promise<ScenarioResult> {
  const started = performance.now();
  const log = (line: string): void => console.error(`[${scenario.name}] ${line}`);
  const runs = args.runs ?? (args.quick ? (scenario.runs?.quick ?? 2) : (scenario.runs?.full ?? 7));
  const base = { name: scenario.name, title: scenario.title, runs, variants: [], comparisons: [], absoluteTargets: [] };
  const reason = await waitUntilAvailable(scenario, log);
  if (reason !== null) {
    log(`skipped: ${reason}`);
    return { ...base, skipped: reason, seconds: 0 };
  }
  let plan;
  try {
    plan = await scenario.prepare({ quick: args.quick, runs, prefix: `${prefix}-${scenario.name}`, log });
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    log(`skipped: preparation failed: ${message}`);
    return { ...base, skipped: `preparation failed: ${message}`, seconds: 0 };
  }
  const outcomes = new Map<string, RunOutcome[]>(plan.variants.map((v) => [v.id, []]));
  try {
    for (let run = 0; run < runs; run++) {
      // Rotate the order so that no variant always runs first (cold broker) or last.
      const order = plan.variants.map((_, i) => plan.variants[(i + run) % plan.variants.length]!);
      for (const variant of order) {
        const once = async (): Promise<RunOutcome> =>
          variant.where === 'child'
            ? runChild(args, scenario, variant, { ...plan.context }, run)
            : scenario
                .run({ variant, context: plan.context, run, log: (line) => args.verbose && log(`  [${variant.id}] ${line}`) })
                .catch((error: unknown) => ({ error: error instanceof Error ? error.message : String(error) }));
        let outcome = await once();
        if ('error' in outcome) {
          // Mostly a broker restarted by another suite: wait for it, then try this run once more.
          log(`run ${run + 1}/${runs} ${variant.id}: ${describeOutcome(outcome)}; retrying once`);
          if ((await waitUntilAvailable(scenario, log, variant)) === null) outcome = await once();
        }
        outcomes.get(variant.id)!.push(outcome);
        log(`run ${run + 1}/${runs} ${variant.id}: ${describeOutcome(outcome)}`);
      }
    }
  } finally {
    await plan.cleanup().catch((error: unknown) => log(`cleanup failed: ${String(error)}`));
  }
  const variants = plan.variants.map((v) => summarizeVariant(v.id, v.label, v.role, outcomes.get(v.id)!, v.figure));
  return {
    ...base,
    workload: plan.workload,
    seconds: (performance.now() - started) / 1000,
    variants,
    comparisons: plan.comparisons.map((c) => summarizeComparison(c, variants)),
    absoluteTargets: (plan.absoluteTargets ?? []).map((t) => summarizeAbsolute(t, variants)),
  };
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const selected =
    args.scenarios.length === 0 || args.scenarios.includes('all')
      ? SCENARIOS.filter((s) => s.optIn !== true || args.scenarios.includes(s.name))
      : SCENARIOS.filter((s) => args.scenarios.includes(s.name));
  const startedAt = new Date();
  const started = performance.now();
  // Unique per invocation: every topic, queue, exchange and group of this run starts with it.
  const prefix = `msgport-bench-${startedAt.getTime().toString(36)}-${process.pid}`;
  const machine = await machineInfo(args);
  console.error(`bench: ${selected.map((s) => s.name).join(', ')}${args.quick ? ' (quick)' : ''}; names start with ${prefix}`);
  const scenarios: ScenarioResult[] = [];
  for (const scenario of selected) scenarios.push(await runScenario(args, scenario, prefix));
  const results: BenchResults = {
    startedAt: startedAt.toISOString().replace(/\.\d+Z$/, 'Z'),
    seconds: (performance.now() - started) / 1000,
    command: ['npm run bench', ...(process.argv.length > 2 ? ['--', ...process.argv.slice(2)] : [])].join(' '),
    quick: args.quick,
    machine,
    scenarios,
  };
  mkdirSync(args.out, { recursive: true });
  writeFileSync(join(args.out, 'latest.json'), JSON.stringify(results, null, 2) + '\n');
  writeFileSync(join(args.out, 'latest.md'), markdownReport(results));
  writeFileSync(join(args.out, 'latest.svg'), svgChart(results));
  const written = ['latest.json', 'latest.md', 'latest.svg'];
  // A PNG as well when librsvg's rsvg-convert is installed (optional; the SVG is the chart).
  try {
    await promisify(execFile)('rsvg-convert', ['-o', join(args.out, 'latest.png'), join(args.out, 'latest.svg')], {
      timeout: 30_000,
    });
    written.push('latest.png');
  } catch {
    rmSync(join(args.out, 'latest.png'), { force: true }); // no rsvg-convert: the SVG alone, no stale PNG
  }
  console.log(textReport(results));
  console.log(`\nWrote ${written.map((f) => join(args.out, f)).join(', ')} (${results.seconds.toFixed(0)} s in all)`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
