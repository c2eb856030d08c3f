import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, realpathSync, rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { REPO_ROOT } from './env.js';

const run = promisify(execFile);

/**
 * Which msgport a variant runs: the packages of this checkout (`this`), or the same packages as
 * they were at {@link REFERENCE_COMMIT}, built from git for a comparison in the same bench run.
 */
export type Build = 'this' | 'reference';

/**
 * The last commit before issue 12 (typed topics, message ids, failure control, per-subscription
 * concurrency): the `untyped` scenario measures untyped publish/consume of this checkout against it.
 */
export const REFERENCE_COMMIT = '17132f3088eccb2e1ebf9aa76ba42ea6dbebffb9';

/** The packages a reference build holds. */
const PACKAGES = ['core', 'memory', 'kafka', 'rabbitmq'] as const;
type PackageName = (typeof PACKAGES)[number];

interface PackageModules {
  core: typeof import('@msgport/core');
  memory: typeof import('@msgport/memory');
  kafka: typeof import('@msgport/kafka');
  rabbitmq: typeof import('@msgport/rabbitmq');
}

/** Where the reference build lives (ignored by git, ESLint and Prettier; kept between runs). */
function referenceDir(): string {
  return join(REPO_ROOT, 'bench', '.reference', REFERENCE_COMMIT.slice(0, 12));
}

/**
 * The package `name` of `build`. Only the reference build's API as it was then can be relied on:
 * variants that run it use what both builds have (constructors, start, subscribe, publish, stop).
 */
export async function msgportPackage<K extends PackageName>(name: K, build: Build = 'this'): Promise<PackageModules[K]> {
  if (build === 'this') return (await import(`@msgport/${name}`)) as PackageModules[K];
  const entry = join(referenceDir(), 'packages', name, 'dist', 'index.js');
  if (!existsSync(entry)) throw new Error(`no reference build at ${entry}: run the untyped scenario's prepare first`);
  return (await import(pathToFileURL(entry).href)) as PackageModules[K];
}

/**
 * Builds the packages as they were at {@link REFERENCE_COMMIT} into bench/.reference/<commit>
 * (once; later runs reuse it): their sources from `git archive`, their dependencies linked to this
 * checkout's installed ones (the same versions: kafkajs and amqplib did not change since), each
 * other's `@msgport/*` imports to the reference packages, then `tsc -b`. Needs the git history
 * (a clone has it).
 */
export async function ensureReferenceBuild(log: (line: string) => void): Promise<void> {
  const dir = referenceDir();
  if (PACKAGES.every((name) => existsSync(join(dir, 'packages', name, 'dist', 'index.js')))) return;
  log(`building the reference packages of ${REFERENCE_COMMIT.slice(0, 12)} in ${dir}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const paths = ['tsconfig.base.json', ...PACKAGES.map((name) => `packages/${name}`)];
  try {
    await run('bash', [
      '-c',
      'set -o pipefail; git -C "$1" archive "$2" "${@:4}" | tar -x -C "$3"',
      'archive',
      REPO_ROOT,
      REFERENCE_COMMIT,
      dir,
      ...paths,
    ]);
  } catch (error) {
    throw new Error(
      `cannot read ${REFERENCE_COMMIT.slice(0, 12)} from git (a shallow clone lacks it: git fetch --unshallow): ${String(error)}`,
      { cause: error },
    );
  }
  for (const name of PACKAGES) linkDependencies(dir, name);
  const tsc = join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  try {
    await run(process.execPath, [tsc, '-b', ...PACKAGES.map((name) => join(dir, 'packages', name))], { maxBuffer: 1 << 24 });
  } catch (error) {
    const output = error instanceof Error && 'stdout' in error ? String(error.stdout) : String(error);
    throw new Error(`cannot build the reference packages in ${dir}:\n${output.slice(0, 2_000)}`, { cause: error });
  }
}

/**
 * Gives reference package `name` a node_modules of its own: `@msgport/*` to the reference packages,
 * everything else to what this checkout's package of that name resolves (its real paths).
 */
function linkDependencies(dir: string, name: PackageName): void {
  const installed = join(REPO_ROOT, 'packages', name, 'node_modules');
  const target = join(dir, 'packages', name, 'node_modules');
  mkdirSync(join(target, '@msgport'), { recursive: true });
  for (const other of PACKAGES) {
    if (other !== name) symlinkSync(join(dir, 'packages', other), join(target, '@msgport', other), 'dir');
  }
  if (!existsSync(installed)) return;
  for (const entry of readdirSync(installed)) {
    if (entry === '@msgport' || entry === '.bin') continue;
    if (entry.startsWith('@')) {
      mkdirSync(join(target, entry), { recursive: true });
      for (const scoped of readdirSync(join(installed, entry))) {
        symlinkSync(realpathSync(join(installed, entry, scoped)), join(target, entry, scoped), 'dir');
      }
    } else {
      symlinkSync(realpathSync(join(installed, entry)), join(target, entry), 'dir');
    }
  }
}
