import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

// Installs the packages the way a user meets them: every package is built and packed once
// (scripts/pack-packages.mjs, pnpm pack), then throwaway projects outside the workspace install
// only those tarballs (`file:` dependencies, plus npm `overrides` / `pnpm.overrides` pinning every
// @msgport/* package to its tarball, so nothing @msgport comes from a registry; zod, kafkajs and
// amqplib do come from the npm registry). The consumer application (fixtures/round-trip.cjs) calls
// createBroker() and never names a broker: what is installed decides.
//
// Needs RabbitMQ and Kafka (addresses from MSGPORT_RABBITMQ_URL and MSGPORT_KAFKA_BROKERS, local
// defaults otherwise); a test that needs an unreachable broker fails, it is never skipped.
// MSGPORT_KEEP_INSTALL_DIRS=1 keeps the temporary projects for a look after the run.

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const fixtures = join(dirname(fileURLToPath(import.meta.url)), 'fixtures');
const RABBITMQ_URL = process.env.MSGPORT_RABBITMQ_URL ?? 'amqp://guest:guest@127.0.0.1:5672/';
const KAFKA_BROKERS = process.env.MSGPORT_KAFKA_BROKERS ?? '127.0.0.1:9092';
const PNPM = join(root, 'node_modules', 'pnpm', 'bin', 'pnpm.cjs');
const TSC = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
const TYPES_NODE = readJson(join(root, 'package.json')).devDependencies['@types/node']!;
const INSTALL_FLAGS = ['--no-audit', '--no-fund', '--prefer-offline'];
// --no-frozen-lockfile: under CI=true pnpm would refuse to update the lockfile when a step adds a package.
const PNPM_INSTALL = ['install', '--no-frozen-lockfile', '--prefer-offline', '--reporter=append-only'];
const ADAPTERS = ['kafka', 'rabbitmq'] as const;
type Adapter = (typeof ADAPTERS)[number];

interface PackedPackage {
  readonly name: string;
  readonly version: string;
  readonly tarball: string;
  readonly files: readonly string[];
  readonly manifest: Record<string, unknown> & {
    dependencies?: Record<string, string>;
    peerDependencies?: Record<string, string>;
  };
}

interface RoundTrip {
  readonly moduleSystem: 'esm' | 'cjs';
  readonly node: string;
  readonly provider: string;
  readonly detected: boolean;
  readonly topic: string;
  readonly group: string;
  readonly sent: { key: string; value: string; headers: Record<string, string> };
  readonly received: ReadonlyArray<{
    topic: string;
    key: string | null;
    value: string;
    headers: Record<string, string>;
    metadata: Record<string, unknown>;
  }>;
  readonly healthWhileRunning: string;
  readonly healthAfterStop: string;
}

let work = '';
let packed: PackedPackage[] = [];

// ---------------------------------------------------------------------------------------------
// helpers

interface RunResult {
  readonly stdout: string;
  readonly stderr: string;
}

/** The environment of every child: this one minus what `npm run` and Jest put there for the repo. */
function childEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    const forTheRepo =
      key === 'NODE_OPTIONS' ||
      key === 'INIT_CWD' ||
      key.startsWith('MSGPORT_') ||
      /^npm_(package_|lifecycle_|command$|config_local_prefix$|config_user_agent$)/i.test(key) ||
      key.startsWith('JEST_');
    if (!forTheRepo) env[key] = value;
  }
  env.MSGPORT_MESSAGING_KAFKA_BOOTSTRAP_SERVERS = KAFKA_BROKERS;
  env.MSGPORT_MESSAGING_RABBITMQ_URL = RABBITMQ_URL;
  return env;
}

function run(command: string, args: readonly string[], cwd: string, timeoutMs = 120_000): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    execFile(
      command,
      args,
      { cwd, env: childEnv(), timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error) {
          const why = error.killed
            ? `did not finish within ${timeoutMs} ms (killed)`
            : `failed (exit code ${String(error.code)})`;
          reject(new Error(`${[command, ...args].join(' ')} in ${cwd} ${why}\n--- stdout\n${stdout}\n--- stderr\n${stderr}`));
        } else {
          resolve({ stdout, stderr });
        }
      },
    );
  });
}

const npm = (cwd: string, ...args: string[]) => run('npm', args, cwd);
const pnpm = (cwd: string, ...args: string[]) => run(process.execPath, [PNPM, ...args], cwd);

/** The value after `marker ` on a line of the output, parsed as JSON. */
function marked<T>(output: RunResult, marker: string): T {
  const line = output.stdout.split('\n').find((candidate) => candidate.startsWith(`${marker} `));
  if (line === undefined)
    throw new Error(`no "${marker}" line in the output\n--- stdout\n${output.stdout}\n--- stderr\n${output.stderr}`);
  return JSON.parse(line.slice(marker.length + 1)) as T;
}

function tarball(name: string): string {
  const found = packed.find((pkg) => pkg.name === name);
  if (found === undefined) throw new Error(`${name} was not packed`);
  return `file:${found.tarball}`;
}

/** Every @msgport/* package, pinned to its tarball. */
function pins(): Record<string, string> {
  return Object.fromEntries(packed.map((pkg) => [pkg.name, tarball(pkg.name)]));
}

/** A package.json (or another JSON object) as far as these tests read and write it. */
interface Manifest {
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
  [field: string]: unknown;
}

function readJson(file: string): Manifest {
  return JSON.parse(readFileSync(file, 'utf8')) as Manifest;
}

function writeJson(file: string, value: unknown): void {
  writeFileSync(file, `${JSON.stringify(value, null, 2)}\n`);
}

/** A new project directory outside the workspace, with the consumer application copied in. */
function createProject(name: string, manifest: Record<string, unknown>): string {
  const dir = join(work, name);
  mkdirSync(dir);
  for (const file of ['round-trip.cjs', 'app.mjs', 'app.cjs', 'broker-side.mjs']) cpSync(join(fixtures, file), join(dir, file));
  writeJson(join(dir, 'package.json'), {
    name: `msgport-install-${basename(name)}`,
    version: '1.0.0',
    private: true,
    ...manifest,
  });
  return dir;
}

function installedMsgport(dir: string): string[] {
  const scope = join(dir, 'node_modules', '@msgport');
  return existsSync(scope) ? readdirSync(scope).sort() : [];
}

/** Fails unless every @msgport/* package in the npm lockfile came from one of our tarballs. */
function expectNpmLockOnlyFromTarballs(dir: string): void {
  const lock = readJson(join(dir, 'package-lock.json'));
  const fromElsewhere = Object.entries(lock.packages as Record<string, { resolved?: string }>)
    .filter(([path]) => /node_modules\/@msgport\/[^/]+$/.test(path))
    .filter(
      ([, entry]) =>
        !packed.some((pkg) => entry.resolved !== undefined && join(dir, entry.resolved.replace(/^file:/, '')) === pkg.tarball),
    )
    .map(([path, entry]) => `${path} ← ${entry.resolved ?? '(no resolved)'}`);
  expect(fromElsewhere).toEqual([]);
}

/** Fails unless every @msgport/* package in the pnpm lockfile is a file: tarball. */
function expectPnpmLockOnlyFromTarballs(dir: string): void {
  const lock = readFileSync(join(dir, 'pnpm-lock.yaml'), 'utf8');
  const keys = [...lock.matchAll(/^ {2}'?(@msgport\/[a-z]+)@([^':(]+)/gm)].map(([, name, spec]) => `${name}@${spec}`);
  expect(keys.length).toBeGreaterThan(0);
  expect(keys.filter((key) => !key.includes('@file')).sort()).toEqual([]);
}

async function expectReachable(what: string, host: string, port: number): Promise<void> {
  const error = await new Promise<Error | null>((resolve) => {
    const socket = connect({ host, port, timeout: 3000 });
    socket.once('connect', () => {
      socket.destroy();
      resolve(null);
    });
    socket.once('timeout', () => {
      socket.destroy();
      resolve(new Error('timed out'));
    });
    socket.once('error', resolve);
  });
  if (error !== null) {
    throw new Error(
      `${what} is unreachable on ${host}:${port} (${error.message}). Start it (npm test starts Kafka itself; RabbitMQ: rabbitmq-server -detached) and run the tests again.`,
    );
  }
}

const rabbitmqReachable = () => {
  const url = new URL(RABBITMQ_URL);
  return expectReachable('RabbitMQ', url.hostname, Number(url.port || 5672));
};

const kafkaReachable = () => {
  const [host = '127.0.0.1', port = '9092'] = KAFKA_BROKERS.split(',')[0]!.split(':');
  return expectReachable('Kafka', host, Number(port));
};

async function roundTrip(dir: string, app: 'app.mjs' | 'app.cjs'): Promise<RoundTrip> {
  return marked<RoundTrip>(await run(process.execPath, [app], dir, 90_000), 'MSGPORT_RESULT');
}

/** The message arrived once, exactly as published, and the broker was up while running and stopped after. */
function expectDelivered(result: RoundTrip, provider: string): void {
  expect({ provider: result.provider, detected: result.detected }).toEqual({ provider, detected: true });
  expect(result.received).toHaveLength(1);
  const [message] = result.received;
  // The headers as sent, plus the message id (a UUID v7) that publish() adds.
  expect({ topic: message!.topic, key: message!.key, value: message!.value, headers: message!.headers }).toEqual({
    topic: result.topic,
    ...result.sent,
    headers: {
      ...result.sent.headers,
      'msgport-message-id': expect.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/),
    },
  });
  expect([result.healthWhileRunning, result.healthAfterStop]).toEqual(['up', 'stopped']);
}

/** The group's partition queues, summed. */
interface RabbitQueue {
  readonly queues: readonly string[];
  readonly exists: boolean;
  readonly messageCount: number;
  readonly consumerCount: number;
}

interface KafkaOffsets {
  readonly endOffsets: ReadonlyArray<{ partition: number; offset: string }>;
  readonly committedOffsets: ReadonlyArray<{ partition: number; offset: string }>;
}

/** On RabbitMQ: the group's durable partition queues exist, hold nothing (acknowledged) and have no consumer left. Then removed. */
async function expectThroughRabbitMQ(dir: string, result: RoundTrip): Promise<void> {
  expect(result.received[0]!.metadata).toMatchObject({ redelivered: false });
  const queue = marked<RabbitQueue>(
    await run(process.execPath, ['broker-side.mjs', 'rabbitmq', result.topic, result.group], dir),
    'MSGPORT_BROKER',
  );
  expect(queue).toEqual({
    queues: [0, 1, 2, 3].map((partition) => `${result.topic}.${result.group}.p${partition}`),
    exists: true,
    messageCount: 0,
    consumerCount: 0,
  });
}

/** On Kafka: the topic holds one message, and the group committed past it. Then topic and group are removed. */
async function expectThroughKafka(dir: string, result: RoundTrip): Promise<void> {
  expect(result.received[0]!.metadata).toMatchObject({ partition: expect.any(Number), offset: expect.any(String) });
  const offsets = marked<KafkaOffsets>(
    await run(process.execPath, ['broker-side.mjs', 'kafka', result.topic, result.group], dir),
    'MSGPORT_BROKER',
  );
  const total = (list: KafkaOffsets['endOffsets']) => list.reduce((sum, { offset }) => sum + Math.max(0, Number(offset)), 0);
  expect(total(offsets.endOffsets)).toBe(1);
  expect(total(offsets.committedOffsets)).toBe(1);
}

// ---------------------------------------------------------------------------------------------

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'msgport-install-'));
  if (!relative(root, work).startsWith('..')) throw new Error(`${work} is inside the workspace; the consumers must not see it`);
  const output = await run(
    process.execPath,
    [join(root, 'scripts', 'pack-packages.mjs'), '--out', join(work, 'packs'), '--json'],
    root,
    180_000,
  );
  packed = (JSON.parse(output.stdout.trim().split('\n').at(-1)!) as { packages: PackedPackage[] }).packages;
}, 180_000);

afterAll(() => {
  if (work === '') return;
  if (process.env.MSGPORT_KEEP_INSTALL_DIRS === '1') process.stderr.write(`install tests: kept ${work}\n`);
  else rmSync(work, { recursive: true, force: true });
});

describe('packed packages', () => {
  it('pnpm pack turns every workspace: range into a real semver range and ships only the build', () => {
    expect(packed.map((pkg) => pkg.name).sort()).toEqual([
      '@msgport/autoconfig',
      '@msgport/core',
      '@msgport/kafka',
      '@msgport/memory',
      '@msgport/rabbitmq',
      '@msgport/testkit',
    ]);
    for (const pkg of packed) {
      expect(JSON.stringify(pkg.manifest)).not.toContain('workspace:');
      for (const [name, range] of Object.entries({ ...pkg.manifest.dependencies, ...pkg.manifest.peerDependencies })) {
        // Caret ranges, except autoconfig's optional adapter peers: any 0.x of an adapter (it only maps
        // options to them), so that an adapter's 0.x minor does not force autoconfig to a major.
        if (name.startsWith('@msgport/'))
          expect(`${pkg.name} → ${name}@${range}`).toMatch(/@(\^\d+\.\d+\.\d+|>=\d+\.\d+\.\d+ <1\.0\.0)$/);
      }
      // src/ ships so that the source maps resolve; LICENSE and CHANGELOG.md ship for users.
      expect(pkg.files).toEqual(
        expect.arrayContaining(['package.json', 'dist/index.js', 'dist/index.d.ts', 'src/index.ts', 'LICENSE', 'CHANGELOG.md']),
      );
      const stray = pkg.files.filter(
        (file) => !/^(dist\/.+\.(js|d\.ts)(\.map)?|src\/.+\.ts|package\.json|README\.md|CHANGELOG\.md|LICENSE)$/.test(file),
      );
      expect(`${pkg.name}: ${stray.join(', ')}`).toBe(`${pkg.name}: `);
    }
    const peers = Object.fromEntries(packed.map((pkg) => [pkg.name, pkg.manifest.peerDependencies?.['@msgport/core']]));
    for (const adapter of ['@msgport/memory', '@msgport/kafka', '@msgport/rabbitmq', '@msgport/testkit']) {
      expect(`${adapter}: ${String(peers[adapter])}`).toMatch(/: \^\d+\.\d+\.\d+$/);
    }
  });
});

describe('an npm consumer, one project that adds and removes adapters as a user would', () => {
  let project: Promise<string> | undefined;

  /** The project, created with only @msgport/autoconfig on first use (each test also runs alone with -t). */
  function npmProject(): Promise<string> {
    project ??= (async () => {
      const dir = createProject('npm', {
        type: 'module',
        dependencies: { '@msgport/autoconfig': tarball('@msgport/autoconfig') },
        overrides: pins(),
      });
      await npm(dir, 'install', ...INSTALL_FLAGS);
      expectNpmLockOnlyFromTarballs(dir);
      return dir;
    })();
    return project;
  }

  /** Sets the project's adapter dependencies (same tarball specs as the overrides, as npm requires) and installs. */
  async function installAdapters(dir: string, adapters: readonly Adapter[]): Promise<void> {
    const manifest = readJson(join(dir, 'package.json'));
    for (const adapter of ADAPTERS) delete manifest.dependencies[`@msgport/${adapter}`];
    for (const adapter of adapters) manifest.dependencies[`@msgport/${adapter}`] = tarball(`@msgport/${adapter}`);
    writeJson(join(dir, 'package.json'), manifest);
    await npm(dir, 'install', ...INSTALL_FLAGS);
    expectNpmLockOnlyFromTarballs(dir);
  }

  it('with only @msgport/autoconfig installed, createBroker() selects the in-memory broker and a message makes the round trip', async () => {
    const dir = await npmProject();
    expect(installedMsgport(dir)).toEqual(['autoconfig', 'core', 'memory']);

    expectDelivered(await roundTrip(dir, 'app.mjs'), 'memory');
  }, 120_000);

  it('with @msgport/rabbitmq added, the same code selects RabbitMQ and the message goes through the broker', async () => {
    await rabbitmqReachable();
    const dir = await npmProject();
    await installAdapters(dir, ['rabbitmq']);
    expect(installedMsgport(dir)).toEqual(['autoconfig', 'core', 'memory', 'rabbitmq']);

    const result = await roundTrip(dir, 'app.mjs');
    expectDelivered(result, 'rabbitmq');
    await expectThroughRabbitMQ(dir, result);
  }, 120_000);

  it('with @msgport/kafka added as well, the same code selects Kafka and the message goes through the broker', async () => {
    await kafkaReachable();
    const dir = await npmProject();
    await installAdapters(dir, ['rabbitmq', 'kafka']);
    expect(installedMsgport(dir)).toEqual(['autoconfig', 'core', 'kafka', 'memory', 'rabbitmq']);

    const result = await roundTrip(dir, 'app.mjs');
    expectDelivered(result, 'kafka');
    await expectThroughKafka(dir, result);
  }, 120_000);

  it('after npm uninstall @msgport/kafka, the same code is back on RabbitMQ', async () => {
    await rabbitmqReachable();
    const dir = await npmProject();
    if (installedMsgport(dir).join() !== 'autoconfig,core,kafka,memory,rabbitmq')
      await installAdapters(dir, ['rabbitmq', 'kafka']);
    await npm(dir, 'uninstall', ...INSTALL_FLAGS, '@msgport/kafka');
    expect(installedMsgport(dir)).toEqual(['autoconfig', 'core', 'memory', 'rabbitmq']);
    expect(existsSync(join(dir, 'node_modules', 'kafkajs'))).toBe(false);

    const result = await roundTrip(dir, 'app.mjs');
    expectDelivered(result, 'rabbitmq');
    await expectThroughRabbitMQ(dir, result);
  }, 120_000);

  it('a CommonJS consumer (require) and an ESM consumer (import) both make the round trip', async () => {
    await rabbitmqReachable();
    const dir = await npmProject();
    // The state the previous steps leave: autoconfig and rabbitmq.
    if (installedMsgport(dir).join() !== 'autoconfig,core,memory,rabbitmq') await installAdapters(dir, ['rabbitmq']);
    for (const app of ['app.cjs', 'app.mjs'] as const) {
      const result = await roundTrip(dir, app);
      expect(result.moduleSystem).toBe(app === 'app.cjs' ? 'cjs' : 'esm');
      expectDelivered(result, 'rabbitmq');
      await expectThroughRabbitMQ(dir, result);
    }
  }, 120_000);
});

describe('a pnpm consumer: an app inside a pnpm workspace, without hoisting', () => {
  let workspace = '';
  let dir = '';

  /**
   * A workspace root with the app in apps/service. With hoist=false a package sees only what it
   * declares, and the app's own node_modules is not on the way up from the virtual store at the
   * root: autoconfig finds an adapter only through its optional peer declaration. (In a
   * single-package project, Node's lookup from node_modules/.pnpm would walk up to the project's
   * node_modules and find the adapter even without that declaration.)
   */
  function createWorkspace(): void {
    workspace = join(work, 'pnpm');
    mkdirSync(workspace);
    writeJson(join(workspace, 'package.json'), { name: 'msgport-install-pnpm', private: true, pnpm: { overrides: pins() } });
    writeFileSync(join(workspace, 'pnpm-workspace.yaml'), 'packages:\n  - apps/*\n');
    writeFileSync(join(workspace, '.npmrc'), 'hoist=false\n');
    mkdirSync(join(workspace, 'apps'));
    dir = createProject(join('pnpm', 'apps', 'service'), {
      dependencies: { '@msgport/autoconfig': tarball('@msgport/autoconfig') },
    });
  }

  it('with only @msgport/autoconfig installed, pnpm resolves its dependencies and the in-memory broker is selected', async () => {
    createWorkspace();
    await pnpm(workspace, ...PNPM_INSTALL);
    expectPnpmLockOnlyFromTarballs(workspace);
    expect(installedMsgport(dir)).toEqual(['autoconfig']);

    expectDelivered(await roundTrip(dir, 'app.mjs'), 'memory');
    expectDelivered(await roundTrip(dir, 'app.cjs'), 'memory');
  }, 120_000);

  it('with @msgport/kafka added, autoconfig reaches it through its optional peer and Kafka is selected', async () => {
    await kafkaReachable();
    if (workspace === '') createWorkspace();
    const manifest = readJson(join(dir, 'package.json'));
    manifest.dependencies['@msgport/kafka'] = tarball('@msgport/kafka');
    // The adapter's peer. pnpm would auto-install it from the registry, which overrides do not
    // reach (and which does not have this unreleased build); a user gets it from the registry.
    manifest.dependencies['@msgport/core'] = tarball('@msgport/core');
    writeJson(join(dir, 'package.json'), manifest);
    await pnpm(workspace, ...PNPM_INSTALL);
    expectPnpmLockOnlyFromTarballs(workspace);
    expect(installedMsgport(dir)).toEqual(['autoconfig', 'core', 'kafka']);

    const result = await roundTrip(dir, 'app.mjs');
    expectDelivered(result, 'kafka');
    await expectThroughKafka(dir, result);
  }, 120_000);
});

describe('a TypeScript consumer', () => {
  let project: Promise<string> | undefined;

  /** One npm project with @msgport/autoconfig, @msgport/core and @types/node, shared by both checks. */
  function typescriptProject(): Promise<string> {
    project ??= (async () => {
      const dir = createProject('typescript', {
        type: 'module',
        dependencies: { '@msgport/autoconfig': tarball('@msgport/autoconfig'), '@msgport/core': tarball('@msgport/core') },
        devDependencies: { '@types/node': TYPES_NODE },
        overrides: pins(),
      });
      for (const file of ['consumer.ts', 'consumer-cjs.cts', 'tsconfig.nodenext.json', 'tsconfig.bundler.json'])
        cpSync(join(fixtures, file), join(dir, file));
      await npm(dir, 'install', ...INSTALL_FLAGS);
      expectNpmLockOnlyFromTarballs(dir);
      return dir;
    })();
    return project;
  }

  it('the types resolve with moduleResolution NodeNext (standard decorators, an ESM and a .cts file), and the compiled consumer runs', async () => {
    const dir = await typescriptProject();
    // skipLibCheck false: the shipped declarations are checked under the consumer's strict flags.
    await run(process.execPath, [TSC, '-p', 'tsconfig.nodenext.json'], dir);
    const output = marked<{ provider: string; billed: string[] }>(
      await run(process.execPath, ['dist/consumer.js'], dir),
      'MSGPORT_RESULT',
    );
    expect(output).toEqual({ provider: 'memory', billed: ['customer-7:o-1'] });
  }, 120_000);

  it('the types resolve with moduleResolution Bundler (experimentalDecorators, as in NestJS)', async () => {
    const dir = await typescriptProject();
    await run(process.execPath, [TSC, '-p', 'tsconfig.bundler.json'], dir);
  }, 120_000);
});
